"""Resource names shared by the services, the local stack and the Pulumi programs."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

from f1common.errors import bounded
from f1common.warehouse import STAGING_SCHEMA

METRICS_NAMESPACE = "GrandPrixInsights"
SERVICE_SCHEDULER = "scheduler"
SERVICE_INGESTION = "ingestion"
SERVICE_LOADER = "loader"
SERVICE_TRANSFORMER = "transformer"
SERVICES = (SERVICE_SCHEDULER, SERVICE_INGESTION, SERVICE_LOADER, SERVICE_TRANSFORMER)

# A stage (local, dev, prod, ...): it is in every resource name (S3, IAM, Snowflake's GPI_<STAGE> database).
STAGE_PATTERN = r"^[a-z][a-z0-9]{1,15}$"
# A Snowflake object name as the settings give it (unquoted in the services' SQL): letters, digits, _ and $.
SNOWFLAKE_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_$]{0,254}$"

# dbt's snapshot schema (analytics/dbt/dbt_project.yml `snapshots: +schema: snapshots`, unquoted: SNAPSHOTS)
SNAPSHOTS_SCHEMA = "SNAPSHOTS"

# DynamoDB race calendar: one item per session, keyed by the session key ("2023-01-R").
CALENDAR_KEY = "pk"
CALENDAR_TTL_ATTRIBUTE = "expires_at"

# The account of the embedded stack's fake ARNs (targets the local dispatcher maps to handlers; moto's own
# resources carry moto's account).
LOCAL_ACCOUNT = "000000000000"


def lambda_arn(region: str, function: str, account: str = LOCAL_ACCOUNT) -> str:
    return f"arn:aws:lambda:{region}:{account}:function:{function}"


def role_arn(role: str, account: str = LOCAL_ACCOUNT) -> str:
    return f"arn:aws:iam::{account}:role/{role}"


class ResourceNames(BaseModel):
    """Names of every cloud resource of one stage (dev, prod, local)."""

    model_config = ConfigDict(frozen=True)

    stage: str
    landing_bucket: str
    calendar_table: str
    loader_queue: str
    ingestion_dlq: str
    schedule_group: str
    scheduler_function: str
    ingestion_function: str
    ingestion_invoke_role: str  # what EventBridge Scheduler's one-time schedules assume to invoke the ingestion
    loader_function: str
    transformer_queue: str  # landed manifests, the safety schedule and operators' requests -> the transformer
    transformer_function: str
    manifest_landed_rule: str  # EventBridge rule: a manifest written to the landing bucket -> transformer queue
    warehouse_database: str
    staging_schema: str = STAGING_SCHEMA.upper()  # Snowflake upper-cases unquoted identifiers
    analytics_schema: str = "ANALYTICS"
    snapshots_schema: str = SNAPSHOTS_SCHEMA

    @classmethod
    def for_stage(cls, stage: str) -> ResourceNames:
        if not re.fullmatch(STAGE_PATTERN, stage):
            raise ValueError(f"stage must match {STAGE_PATTERN}, got {bounded(stage)}")
        p = f"gpi-{stage}"
        return cls(
            stage=stage,
            landing_bucket=f"{p}-landing",
            calendar_table=f"{p}-race-calendar",
            loader_queue=f"{p}-loader-events",
            ingestion_dlq=f"{p}-ingestion-dlq",
            schedule_group=f"{p}-ingestion",
            scheduler_function=f"{p}-{SERVICE_SCHEDULER}",
            ingestion_function=f"{p}-{SERVICE_INGESTION}",
            ingestion_invoke_role=f"{p}-{SERVICE_SCHEDULER}-invoke-ingestion",
            loader_function=f"{p}-{SERVICE_LOADER}",
            transformer_queue=f"{p}-transformer-requests",
            transformer_function=f"{p}-{SERVICE_TRANSFORMER}",
            manifest_landed_rule=f"{p}-manifest-landed",
            warehouse_database=f"GPI_{stage.upper()}",
        )
