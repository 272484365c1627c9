"""Typed stack configuration: read from `pulumi.Config` by the projects' `__main__.py`, built directly in tests.

Keys in `Pulumi.<stack>.yaml` are the camelCase aliases of the fields below (`gpi-aws:ingestionMemoryMb`).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from typing import Any, ClassVar, Literal, Self, cast

import pulumi
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from f1common.errors import describe_validation_error
from f1common.names import SERVICE_LOADER, SERVICES, STAGE_PATTERN, ResourceNames
from f1common.sessions import FIRST_SEASON, LAST_SEASON
from f1common.warehouse import SNOWFLAKE_STATEMENT_TIMEOUT_SECONDS

AWS_PROJECT = "gpi-aws"
SNOWFLAKE_PROJECT = "gpi-snowflake"

# Pants' python_aws_lambda_function packages the handler as `lambda_function.handler` by default.
DEFAULT_LAMBDA_HANDLER = "lambda_function.handler"


class StackOutputs:
    """Base of a frozen dataclass of another stack's outputs: one field each, read under the field's name."""

    SECRETS: ClassVar[tuple[str, ...]] = ()  # fields read as secrets whatever the other stack marks them

    @classmethod
    def output_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cast(Any, cls))]

    @classmethod
    def from_stack(cls, stack: pulumi.StackReference) -> Self:
        values: dict[str, Any] = {name: stack.require_output(name) for name in cls.output_names()}
        values.update({name: pulumi.Output.secret(values[name]) for name in cls.SECRETS})
        return cls(**values)


def snowflake_access_role_name(stage: str) -> str:
    """Name of the IAM role the Snowflake storage integration assumes (created by the AWS stack).

    The Snowflake stack needs the role's ARN before the AWS stack exists, so both derive it from this name.
    """
    return f"gpi-{stage}-snowflake-access"


def snowflake_access_role_arn(aws_account_id: str, stage: str) -> str:
    if not re.fullmatch(r"\d{12}", aws_account_id):
        raise ValueError(f"awsAccountId must be a 12-digit AWS account id, got {aws_account_id!r}")
    return f"arn:aws:iam::{aws_account_id}:role/{snowflake_access_role_name(stage)}"


# The TracingInsights/RaceData mirror of the Ergast/Jolpica database (CC0; the shared offline dump is a copy of
# it), rebuilt within hours of each race.
ERGAST_DUMP_URL = "https://github.com/TracingInsights/RaceData/releases/latest/download/data.zip"


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)


PackageType = Literal["zip", "image"]

# How each service ships (build-support/lambda.py declares the same in the service's BUILD): a zip on AWS's
# python3.11 runtime where its wheels load there, else a container image built by this stack.
# Memory, timeout and /tmp per service: the scheduler syncs and plans the calendar (boto3 and pydantic only); a
# race loaded with FastF1 (laps, results, weather, race control) peaks at ~150-250 MB of Python heap plus the HTTP
# cache in /tmp, and 1 GB also buys a full vCPU for the pandas work; the loader copies one run's files; the
# transformer runs one dbt build (dbt-core parses the project in ~10 s of CPU: 2 GB buys more than one vCPU)
# with dbt's target/ and logs/ in /tmp, within Lambda's 15 minutes.
_DEFAULT_FUNCTIONS: dict[str, tuple[PackageType, int, int, int]] = {
    "scheduler": ("image", 512, 300, 512),
    "ingestion": ("image", 1024, 600, 2048),
    "loader": ("image", 512, 300, 512),
    "transformer": ("image", 2048, 900, 2048),
}


def default_package(service: str) -> str:
    """Where `pants package services/<service>:lambda` writes the package, relative to a Pulumi project dir."""
    return f"../../../dist/services.{service}/lambda.zip"


LOADER_TIMEOUT_MARGIN_SECONDS = 30  # the loader's connect, PUT and COMMIT around its longest statement


class FunctionSettings(_Config):
    """Deployment settings of one Lambda."""

    package_type: PackageType = Field(description="zip (managed python3.11 runtime) or image (built by the stack)")
    package: str = Field(description="The Pants-built zip, relative to the Pulumi project dir (or absolute)")
    handler: str = DEFAULT_LAMBDA_HANDLER
    memory_mb: int = Field(ge=128, le=10240)
    timeout_seconds: int = Field(ge=1, le=900)
    ephemeral_storage_mb: int = Field(default=512, ge=512, le=10240)


def _default_functions() -> dict[str, dict[str, Any]]:
    return {
        svc: {
            "packageType": kind,
            "package": default_package(svc),
            "memoryMb": mem,
            "timeoutSeconds": timeout,
            "ephemeralStorageMb": tmp,
        }
        for svc, (kind, mem, timeout, tmp) in _DEFAULT_FUNCTIONS.items()
    }


class AwsStackConfig(_Config):
    stage: str = Field(pattern=STAGE_PATTERN)
    landing_bucket: str | None = Field(default=None, description="Override of the bucket name (must match Snowflake's)")
    functions: dict[str, FunctionSettings] = Field(
        default_factory=lambda: {svc: FunctionSettings.model_validate(v) for svc, v in _default_functions().items()},
        description="Per service: a partial override of the defaults, e.g. {ingestion: {memoryMb: 1536}}",
    )
    build_packages: bool = Field(
        default=True, description="Run `pants package` for the services before deploying (the program does it)"
    )
    lambda_base_image: str = Field(
        default="public.ecr.aws/docker/library/python:3.11-slim-bookworm",
        description="Base of the service images: CPython 3.11 on Debian 12 (pin it by digest for reproducible builds)",
    )
    image_retention_count: int = Field(default=10, ge=1, description="Images kept per service repository")
    log_retention_days: int = 30
    landing_ia_after_days: int = Field(default=30, ge=30, description="Move landed files to STANDARD_IA after")
    landing_expire_after_days: int = Field(default=365, ge=31, description="Delete landed runs after")
    noncurrent_expire_after_days: int = Field(default=30, ge=1)
    load_with: Literal["snowpipe", "loader"] = Field(
        default="snowpipe",
        description="Who loads landed files: Snowpipe (auto-ingest) or the loader Lambda (accounts without Snowpipe)",
    )
    scheduler_trigger_expression: str = "rate(1 hour)"
    calendar_seasons: list[int] = Field(
        default_factory=list,
        description="Seasons kept in the race calendar besides the current one: synced when the stack is first "
        "deployed (and whenever this list changes), then daily",
    )
    ergast_dump_url: str = Field(
        default=ERGAST_DUMP_URL,
        description="The published Ergast dump (zip of the CSV tables) the ingestion backfills the history from",
    )
    ergast_backfill_expression: str = Field(
        default="cron(0 7 * * ? *)", description="Daily Ergast history backfill (an unchanged dump lands nothing)"
    )
    calendar_sync_expression: str = Field(default="cron(0 6 * * ? *)", description="Daily calendar sync")
    loader_health_handler: str = Field(
        default="loader.handler.health_handler", description="Handler of the load-health check in the loader package"
    )
    loader_health_expression: str = "rate(1 hour)"
    schedule_retry_attempts: int = Field(default=3, ge=0, le=185)
    schedule_max_event_age_seconds: int = Field(default=3600, ge=60, le=86400)
    ingestion_overdue_hours: int = Field(
        default=6,
        ge=1,
        le=24,
        description="Alarm when a session due for ingestion has had no outcome for this many hourly scheduler runs "
        "(the scheduler's SessionsOverdue metric), or when the scheduler stopped reporting",
    )
    transformer_debounce_seconds: int = Field(
        default=60, ge=0, le=300, description="Batching window of the transformer queue: a burst of runs, one build"
    )
    transformer_safety_expression: str = Field(default="rate(1 hour)", description="The transformer's safety run")
    marts_stale_hours: int = Field(
        default=3, ge=2, le=24, description="Alarm if no transformer run succeeded for this long"
    )
    alarm_email: str | None = None
    snowflake_stack: str = Field(description="StackReference name of the Snowflake stack, e.g. acme/gpi-snowflake/dev")

    @field_validator("functions", mode="before")
    @classmethod
    def _all_services(cls, value: Any) -> Any:
        """Each service's settings are its defaults updated with what the stack config sets."""
        if not isinstance(value, dict):
            return value
        unknown = set(value) - set(SERVICES)
        if unknown:
            raise ValueError(f"unknown services in functions: {sorted(unknown)}; expected some of {list(SERVICES)}")
        merged = _default_functions()
        for svc, override in value.items():
            fields = override.model_dump(by_alias=True) if isinstance(override, BaseModel) else dict(override)
            merged[svc] = {**merged[svc], **{to_camel(k): v for k, v in fields.items()}}
        return merged

    @field_validator("calendar_seasons")
    @classmethod
    def _known_seasons(cls, value: list[int]) -> list[int]:
        unknown = sorted(s for s in value if not FIRST_SEASON <= s <= LAST_SEASON)
        if unknown:
            raise ValueError(f"calendar_seasons {unknown} are outside {FIRST_SEASON}..{LAST_SEASON}")
        return sorted(set(value))

    @field_validator("ergast_dump_url")
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError(f"ergast_dump_url must be an https URL, got {value[:80]!r}")
        return value

    @model_validator(mode="after")
    def _loader_outlives_its_statements(self) -> AwsStackConfig:
        """The loader's Snowflake statements end (LOCK_TIMEOUT, STATEMENT_TIMEOUT_IN_SECONDS) before Lambda stops it:
        a loader killed mid-statement leaves a detached query holding the staging tables' locks for minutes."""
        timeout = self.functions[SERVICE_LOADER].timeout_seconds
        needed = SNOWFLAKE_STATEMENT_TIMEOUT_SECONDS + LOADER_TIMEOUT_MARGIN_SECONDS
        if timeout < needed:
            raise ValueError(
                f"functions.loader.timeoutSeconds {timeout} is below {needed}: the loader's Snowflake statements may "
                f"run {SNOWFLAKE_STATEMENT_TIMEOUT_SECONDS} s (f1common.warehouse), "
                f"plus {LOADER_TIMEOUT_MARGIN_SECONDS} s to connect and commit"
            )
        return self

    @property
    def names(self) -> ResourceNames:
        names = ResourceNames.for_stage(self.stage)
        return names.model_copy(update={"landing_bucket": self.landing_bucket}) if self.landing_bucket else names


class KeyGenerations(_Config):
    """The current key-pair generation of each Snowflake service user (see the README: rotation).

    The stack generates one key pair per generation (pulumi-tls) and registers the current and the previous
    generation's public keys on the user, so raising a number rotates that user's key without downtime.
    """

    loader: int = Field(default=1, ge=1)
    transformer: int = Field(default=1, ge=1)
    reporter: int = Field(default=1, ge=1)


class SnowflakeStackConfig(_Config):
    stage: str = Field(pattern=STAGE_PATTERN)
    organization_name: str
    account_name: str
    admin_user: str
    admin_role: str = "ACCOUNTADMIN"
    aws_account_id: str = Field(pattern=r"^\d{12}$")
    landing_bucket: str | None = Field(default=None, description="Override of the bucket name (must match AWS's)")
    key_generations: KeyGenerations = Field(default_factory=KeyGenerations)
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
