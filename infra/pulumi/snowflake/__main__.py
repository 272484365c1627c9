"""The Snowflake stack (`pulumi up` in this dir): reads the stack config."""

import sys
from pathlib import Path

# Source roots of the monorepo checkout: this program imports gpi_infra and f1common (no service) from it.
_REPO = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(_REPO / root) for root in ("infra/pulumi", "libs/f1common")]

import pulumi  # noqa: E402

from gpi_infra.config import SNOWFLAKE_PROJECT, load_snowflake_config  # noqa: E402
from gpi_infra.snowflake_stack import snowflake_program  # noqa: E402

config = load_snowflake_config()
admin_key = pulumi.Config(SNOWFLAKE_PROJECT).get_secret("adminPrivateKey")
for name, value in snowflake_program(config, admin_private_key=admin_key).items():
    pulumi.export(name, value)
