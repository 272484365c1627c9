"""The Grafana stack (`pulumi up` in this dir): reads the stack config, the Snowflake stack's reporter outputs
and the dashboards build, declares the stage's Grafana objects."""

import sys
from pathlib import Path

# Source roots of the monorepo checkout: this program imports gpi_infra and f1common from it.
_HERE = Path(__file__).resolve().parent
_REPO = _HERE.parents[2]
sys.path[:0] = [str(_REPO / root) for root in ("infra/pulumi", "libs/f1common")]

import pulumi  # noqa: E402

from gpi_infra.grafana_bundle import read_bundle  # noqa: E402
from gpi_infra.grafana_config import load_grafana_config  # noqa: E402
from gpi_infra.grafana_stack import ReporterOutputs, grafana_program  # noqa: E402

config = load_grafana_config()
build = read_bundle((_HERE / config.build_dir).resolve(), config.datasource)
snowflake = ReporterOutputs.from_stack(pulumi.StackReference(config.snowflake_stack))
for name, value in grafana_program(config, snowflake, build).items():
    pulumi.export(name, value)
