"""Typed stack configuration: read from `pulumi.Config` by the projects' `__main__.py`, built directly in tests.

Keys in `Pulumi.<stack>.yaml` are the camelCase aliases of the fields below (`gpi-aws:ingestionMemoryMb`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Literal

import pulumi
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from f1common.errors import describe_validation_error
from f1common.names import SERVICES, ResourceNames

AWS_PROJECT = "gpi-aws"
SNOWFLAKE_PROJECT = "gpi-snowflake"

# Pants' python_aws_lambda_function packages the handler as `lambda_function.handler` by default.
DEFAULT_LAMBDA_HANDLER = "lambda_function.handler"


def snowflake_access_role_name(stage: str) -> str:
    """Name of the IAM role the Snowflake storage integration assumes (created by the AWS stack).

    The Snowflake stack needs the role's ARN before the AWS stack exists, so both derive it from this name.
    """
    return f"gpi-{stage}-snowflake-access"


def snowflake_access_role_arn(aws_account_id: str, stage: str) -> str:
    if not re.fullmatch(r"\d{12}", aws_account_id):
        raise ValueError(f"awsAccountId must be a 12-digit AWS account id, got {aws_account_id!r}")
    return f"arn:aws:iam::{aws_account_id}:role/{snowflake_access_role_name(stage)}"


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)


class FunctionSettings(_Config):
    """Deployment settings of one Lambda."""

    package: str | None = Field(
        default=None, description="Path of the Pants-built zip, relative to the Pulumi project dir"
    )
    image_uri: str | None = Field(
        default=None,
        description="ECR image instead of a zip: Lambda caps zips at 250 MB unpacked, FastF1 + pyarrow need more",
    )
    handler: str = DEFAULT_LAMBDA_HANDLER
    memory_mb: int = Field(ge=128, le=10240)
    timeout_seconds: int = Field(ge=1, le=900)
    ephemeral_storage_mb: int = Field(default=512, ge=512, le=10240)

    @model_validator(mode="after")
    def _one_source(self) -> FunctionSettings:
        if (self.package is None) == (self.image_uri is None):
            raise ValueError("set exactly one of package (a zip) and imageUri (an ECR image)")
        return self


def _default_functions() -> dict[str, FunctionSettings]:
    sizes = {
        # The scheduler loads one season's schedule with FastF1 (pandas) and writes the calendar.
        "scheduler": (512, 300, 512),
        # A race session loaded with FastF1 (laps, results, weather, race control) peaks at ~150-250 MB of
        # Python heap plus the HTTP cache in /tmp; 1 GB also buys a full vCPU for the pandas work.
        "ingestion": (1024, 600, 2048),
        # The loader copies one run's files into Snowflake.
        "loader": (512, 300, 512),
    }
    return {
        svc: FunctionSettings(
            package=f"../../../dist/services.{svc}/lambda.zip",
            memory_mb=mem,
            timeout_seconds=timeout,
            ephemeral_storage_mb=tmp,
        )
        for svc, (mem, timeout, tmp) in sizes.items()
    }


class AwsStackConfig(_Config):
    stage: str = Field(pattern=r"^[a-z][a-z0-9]{1,15}$")
    landing_bucket: str | None = Field(default=None, description="Override of the bucket name (must match Snowflake's)")
    functions: dict[str, FunctionSettings] = Field(default_factory=_default_functions)
    log_retention_days: int = 30
    landing_ia_after_days: int = Field(default=30, ge=30, description="Move landed files to STANDARD_IA after")
    landing_expire_after_days: int = Field(default=365, ge=31, description="Delete landed runs after")
    noncurrent_expire_after_days: int = Field(default=30, ge=1)
    load_with: Literal["snowpipe", "loader"] = Field(
        default="snowpipe",
        description="Who loads landed files: Snowpipe (auto-ingest) or the loader Lambda (accounts without Snowpipe)",
    )
    scheduler_trigger_expression: str = "rate(1 hour)"
    calendar_sync_expression: str = Field(default="cron(0 6 * * ? *)", description="Daily calendar sync")
    loader_health_handler: str = Field(
        default="loader.handler.health_handler", description="Handler of the load-health check in the loader package"
    )
    loader_health_expression: str = "rate(1 hour)"
    schedule_retry_attempts: int = Field(default=3, ge=0, le=185)
    schedule_max_event_age_seconds: int = Field(default=3600, ge=60, le=86400)
    ingestion_overdue_hours: int = Field(
        default=6, ge=1, le=24,
        description="Alarm when a session due for ingestion has had no outcome for this many hourly scheduler runs "
        "(the scheduler's SessionsOverdue metric), or when the scheduler stopped reporting",
    )
    alarm_email: str | None = None
    snowflake_stack: str = Field(description="StackReference name of the Snowflake stack, e.g. acme/gpi-snowflake/dev")

    @field_validator("functions")
    @classmethod
    def _all_services(cls, value: dict[str, FunctionSettings]) -> dict[str, FunctionSettings]:
        defaults = _default_functions()
        unknown = set(value) - set(SERVICES)
        if unknown:
            raise ValueError(f"unknown services in functions: {sorted(unknown)}; expected some of {list(SERVICES)}")
        return {**defaults, **value}

    @property
    def names(self) -> ResourceNames:
        names = ResourceNames.for_stage(self.stage)
        return names.model_copy(update={"landing_bucket": self.landing_bucket}) if self.landing_bucket else names


class ServiceUserKeys(_Config):
    """RSA public keys (PEM body, no header lines) of the service users; the private keys never leave their owners."""

    loader: str
    transformer: str
    reporter: str


class SnowflakeStackConfig(_Config):
    stage: str = Field(pattern=r"^[a-z][a-z0-9]{1,15}$")
    organization_name: str
    account_name: str
    admin_user: str
    admin_role: str = "ACCOUNTADMIN"
    aws_account_id: str = Field(pattern=r"^\d{12}$")
    landing_bucket: str | None = Field(default=None, description="Override of the bucket name (must match AWS's)")
    public_keys: ServiceUserKeys
    load_warehouse_size: str = "XSMALL"
    transform_warehouse_size: str = "XSMALL"
    bi_warehouse_size: str = "XSMALL"
    auto_suspend_seconds: int = Field(default=60, ge=60)

    @property
    def names(self) -> ResourceNames:
        names = ResourceNames.for_stage(self.stage)
        return names.model_copy(update={"landing_bucket": self.landing_bucket}) if self.landing_bucket else names

    @property
    def account_identifier(self) -> str:
        return f"{self.organization_name}-{self.account_name}"

    @property
    def storage_role_arn(self) -> str:
        return snowflake_access_role_arn(self.aws_account_id, self.stage)


def _read(model: type[BaseModel], project: str, getter: Callable[[str], Any]) -> Any:
    raw: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        key = field.alias or name
        value = getter(key)
        if value is not None:
            raw[key] = value
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = describe_validation_error(exc, whole="", prefix=f"{project}:")
        raise ValueError(f"invalid stack configuration: {problems}") from None


def _config_getter(config: pulumi.Config) -> Callable[[str], Any]:
    def get(key: str) -> Any:
        value = config.get(key)
        # Structured values (maps, lists) arrive as JSON text; scalars stay strings for pydantic to convert.
        if value is not None and value.lstrip()[:1] in ("{", "["):
            return json.loads(value)
        return value

    return get


def load_aws_config(config: pulumi.Config | None = None) -> AwsStackConfig:
    config = config or pulumi.Config(AWS_PROJECT)
    getter = _config_getter(config)
    return _read(
        AwsStackConfig, AWS_PROJECT, lambda k: getter(k) if k != "stage" else (getter(k) or pulumi.get_stack())
    )


def load_snowflake_config(config: pulumi.Config | None = None) -> SnowflakeStackConfig:
    config = config or pulumi.Config(SNOWFLAKE_PROJECT)
    getter = _config_getter(config)
    return _read(
        SnowflakeStackConfig,
        SNOWFLAKE_PROJECT,
        lambda k: getter(k) if k != "stage" else (getter(k) or pulumi.get_stack()),
    )
