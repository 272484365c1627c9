"""The CrossGuard policy pack: `pulumi up --policy-pack infra/pulumi/policy_pack` (see ../README.md)."""

import sys
from pathlib import Path

# Source roots of the monorepo checkout: the policies import gpi_infra and f1common from it.
_REPO = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(_REPO / root) for root in ("infra/pulumi", "libs/f1common")]

from pulumi_policy import PolicyPack  # noqa: E402

from gpi_infra.grafana_policies import GRAFANA_POLICIES  # noqa: E402
from gpi_infra.policies import POLICIES  # noqa: E402

PolicyPack(name="gpi-guardrails", policies=[*POLICIES, *GRAFANA_POLICIES])
