"""Resource names shared by the services, the local stack and the Pulumi programs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from f1common.warehouse import STAGING_SCHEMA

METRICS_NAMESPACE = "GrandPrixInsights"
SERVICE_SCHEDULER = "scheduler"
SERVICE_INGESTION = "ingestion"
SERVICE_LOADER = "loader"
SERVICES = (SERVICE_SCHEDULER, SERVICE_INGESTION, SERVICE_LOADER)

# DynamoDB race calendar: one item per session, keyed by the session key ("2023-01-R").
CALENDAR_KEY = "pk"
CALENDAR_TTL_ATTRIBUTE = "expires_at"


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
    loader_function: str
    warehouse_database: str
    staging_schema: str = STAGING_SCHEMA.upper()  # Snowflake upper-cases unquoted identifiers
    analytics_schema: str = "ANALYTICS"

    @classmethod
    def for_stage(cls, stage: str) -> ResourceNames:
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
            loader_function=f"{p}-{SERVICE_LOADER}",
            warehouse_database=f"GPI_{stage.upper()}",
        )

    def function_name(self, service: str) -> str:
        return {
            SERVICE_SCHEDULER: self.scheduler_function,
            SERVICE_INGESTION: self.ingestion_function,
            SERVICE_LOADER: self.loader_function,
        }[service]
