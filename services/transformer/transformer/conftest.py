"""Shared test inputs of the transformer."""

from __future__ import annotations

# the AWS stack's environment of the transformer function, with the dev stage's Snowflake stack outputs
STACK_ENV = {
    "GPI_STAGE": "dev",
    "GPI_WAREHOUSE": "snowflake",
    "GPI_SNOWFLAKE_ACCOUNT": "ACME-GPI",
    "GPI_SNOWFLAKE_USER": "GPI_DEV_DBT_SVC",
    "GPI_SNOWFLAKE_ROLE": "GPI_DEV_TRANSFORMER",
    "GPI_SNOWFLAKE_WAREHOUSE": "GPI_DEV_TRANSFORM_WH",
    "GPI_SNOWFLAKE_DATABASE": "GPI_DEV",
}
