"""The AWS stack (`pulumi up` in this dir): reads the stack config and the Snowflake stack's outputs."""

import sys
from pathlib import Path

# Source roots of the monorepo checkout: this program imports gpi_infra, f1common and loader from it.
_REPO = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(_REPO / root) for root in ("infra/pulumi", "libs/f1common", "services/loader")]

import pulumi  # noqa: E402

from gpi_infra.aws_stack import SnowflakeOutputs, aws_program  # noqa: E402
from gpi_infra.config import AWS_PROJECT, load_aws_config  # noqa: E402

config = load_aws_config()
snowflake = SnowflakeOutputs.from_stack(pulumi.StackReference(config.snowflake_stack))
private_key = pulumi.Config(AWS_PROJECT).get_secret("snowflakeLoaderPrivateKey")
for name, value in aws_program(config, snowflake, snowflake_private_key=private_key).items():
    pulumi.export(name, value)
