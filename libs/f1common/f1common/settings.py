"""Settings read from the environment (prefix `GPI_`), with defaults for the embedded local stack."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from f1common.names import SNOWFLAKE_NAME_PATTERN, STAGE_PATTERN, ResourceNames, lambda_arn, role_arn

F1DATA_ENV = "GPI_F1DATA_DIR"


def default_f1data_dir() -> Path | None:
    """`$GPI_F1DATA_DIR`, else `../shared/f1data` beside the project checkout when present."""
    if env := os.environ.get(F1DATA_ENV):
        return Path(env)
    for base in (Path.cwd(), *Path.cwd().parents):
        candidate = base.parent / "shared" / "f1data"
        if (base / "pants.toml").exists() and candidate.is_dir():
            return candidate.resolve()
    return None


class Settings(BaseSettings):
    """All settings of the platform. Environment variables are `GPI_<FIELD>` unless noted."""

    model_config = SettingsConfigDict(env_prefix="GPI_", extra="ignore", frozen=True)

    stage: str = Field(default="local", pattern=STAGE_PATTERN, description="Deployment stage: local, dev, prod")

    # AWS
    aws_region: str = Field(
        default="eu-west-1", validation_alias=AliasChoices("GPI_AWS_REGION", "AWS_REGION", "AWS_DEFAULT_REGION")
    )
    aws_endpoint_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("GPI_AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL"),
        description="Endpoint of an AWS emulator (moto) for the local stack; unset in the cloud",
    )
    landing_bucket: str | None = None
    calendar_table: str | None = None
    loader_queue: str | None = None
    ingestion_dlq: str | None = None
    schedule_group: str | None = None
    ingestion_function_arn: str | None = Field(default=None, description="Target of ingestion schedules")
    scheduler_role_arn: str | None = Field(default=None, description="Role EventBridge Scheduler assumes")
    ingestion_dlq_arn: str | None = None

    # Data sources
    f1data_dir: Path | None = Field(default_factory=default_f1data_dir, description="The shared offline F1 data")
    ergast_dump_url: str | None = Field(
        default=None,
        description="A published Ergast dump (zip of the CSV tables) to backfill from when no dump directory is "
        "configured (the cloud); see ingestion.ergast_download",
    )
    fastf1_cache_dir: Path | None = Field(default=None, description="Writable FastF1 cache (default: temp dir)")
    fastf1_offline: bool | None = Field(
        default=None, description="Serve FastF1 only from its cache; default: when the shared data exists"
    )

    fastf1_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="WARNING", description="FastF1's own log level (its soft-failure warnings are WARNING)"
    )

    # Scheduling
    ingestion_delay_minutes: int = Field(default=60, ge=0, description="Wait after a session's end before ingesting")
    retry_base_minutes: int = Field(default=15, ge=1)
    retry_limit_hours: float = Field(default=6.0, gt=0)

    # Warehouse
    warehouse: Literal["duckdb", "snowflake"] = "duckdb"
    warehouse_path: Path = Field(default=Path(".local/warehouse.duckdb"), description="DuckDB file of the local stack")
    snowflake_account: str | None = None
    snowflake_user: str | None = None
    snowflake_role: str | None = None
    snowflake_warehouse: str | None = None
    snowflake_database: str | None = Field(default=None, pattern=SNOWFLAKE_NAME_PATTERN)  # unquoted in SQL
    snowflake_private_key_path: Path | None = None
    snowflake_private_key_secret_id: str | None = Field(default=None, description="Secrets Manager id of the PEM key")
    snowflake_host: str | None = Field(
        default=None, description="Endpoint instead of the account's own (PrivateLink; a Snowflake emulator in tests)"
    )
    snowflake_port: int | None = None
    snowflake_protocol: Literal["https", "http"] = "https"

    @cached_property
    def names(self) -> ResourceNames:
        return ResourceNames.for_stage(self.stage)

    @property
    def bucket(self) -> str:
        return self.landing_bucket or self.names.landing_bucket

    @property
    def table(self) -> str:
        return self.calendar_table or self.names.calendar_table

    @property
    def queue(self) -> str:
        return self.loader_queue or self.names.loader_queue

    @property
    def dlq(self) -> str:
        return self.ingestion_dlq or self.names.ingestion_dlq

    @property
    def group(self) -> str:
        return self.schedule_group or self.names.schedule_group

    @property
    def offline(self) -> bool:
        if self.fastf1_offline is not None:
            return self.fastf1_offline
        return self.f1data_dir is not None and (self.f1data_dir / "fastf1-cache").is_dir()

    @property
    def ergast_dir(self) -> Path | None:
        if self.f1data_dir is None:
            return None
        path = self.f1data_dir / "ergast"
        return path if path.is_dir() else None


def ingestion_target_arn(settings: Settings) -> str:
    """The ingestion Lambda's ARN (the one-time schedules' target): configured in the cloud; locally a fixed
    fake ARN that the local dispatcher maps to the handler."""
    return settings.ingestion_function_arn or lambda_arn(settings.aws_region, settings.names.ingestion_function)


def invoke_role_arn(settings: Settings) -> str:
    """The role the one-time schedules assume: configured in the cloud; locally a fake ARN of the same name."""
    return settings.scheduler_role_arn or role_arn(settings.names.ingestion_invoke_role)


@contextmanager
def patched_environ(values: Mapping[str, str | None]) -> Iterator[None]:
    """Sets (None: unsets) environment variables for the duration and restores every one of them after."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
