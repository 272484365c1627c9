"""The AWS stack (`pulumi up` in this dir): builds the services' packages, reads the stack config and the
Snowflake stack's outputs, declares the stage."""

import sys
from pathlib import Path

# Source roots of the monorepo checkout: this program imports gpi_infra and f1common from it.
_REPO = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(_REPO / root) for root in ("infra/pulumi", "libs/f1common")]

import pulumi  # noqa: E402

from gpi_infra import packages  # noqa: E402
from gpi_infra.aws_stack import SnowflakeOutputs, aws_program  # noqa: E402
from gpi_infra.config import load_aws_config  # noqa: E402

config = load_aws_config()
if config.build_packages:
    packages.build_with_pants(config.functions)
built = packages.locate(config.functions, Path(__file__).resolve().parent, base_image=config.lambda_base_image)
snowflake = SnowflakeOutputs.from_stack(pulumi.StackReference(config.snowflake_stack))
for name, value in aws_program(config, snowflake, built).items():
    pulumi.export(name, value)
