"""Lambda entry points of the loader: a thin layer over plain functions that take their clients.

- :func:`handler`: SQS batch of S3 event notifications -> staging tables (DuckDB file or Snowflake, per
  ``settings.warehouse``), reporting failed messages as ``batchItemFailures``.
- :func:`health_handler`: scheduled load-health check of recent manifests against Snowflake's
  COPY_HISTORY and the pipes' status, as metrics and logs; it then exports the DynamoDB race calendar
  into ``staging.race_calendar`` for the pipeline-health dashboard.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from f1common import metrics as metric
from f1common.clients import aws_client
from f1common.names import METRICS_NAMESPACE, SERVICE_LOADER
from f1common.settings import Settings
from loader.calendar_export import export_calendar_from_dynamodb
from loader.consumer import process_sqs_batch
from loader.loading import Warehouse

logger = Logger(service=SERVICE_LOADER)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_LOADER)


@contextmanager
def open_warehouse(settings: Settings) -> Iterator[Warehouse]:
    """The configured warehouse: the DuckDB file locally, Snowflake (key-pair auth) in the cloud."""
    if settings.warehouse == "snowflake":
        from loader.snowflake_loader import SnowflakeWarehouse, connect

        conn = connect(settings, secrets=aws_client("secretsmanager", settings))
        try:
            database = settings.snowflake_database or settings.names.warehouse_database
            warehouse = SnowflakeWarehouse(conn, database=database)
            warehouse.ensure_schema()
            yield warehouse
        finally:
            conn.close()
    else:
        from loader.duckdb_warehouse import DuckDBWarehouse

        with DuckDBWarehouse.open(settings.warehouse_path) as duck:
            yield duck


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings()
    with open_warehouse(settings) as warehouse:
        return process_sqs_batch(event, s3=aws_client("s3", settings), warehouse=warehouse, metrics=metrics)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def health_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Event (optional): ``{"lookback_hours": 24, "grace_minutes": 30}``."""
    from loader.snowflake_loader import check_recent_loads, connect

    settings = Settings()
    conn = connect(settings, secrets=aws_client("secretsmanager", settings))
    try:
        report = check_recent_loads(
            conn,
            s3=aws_client("s3", settings),
            bucket=settings.bucket,
            database=settings.snowflake_database or settings.names.warehouse_database,
            lookback_hours=float(event.get("lookback_hours", 24)),
            grace_minutes=float(event.get("grace_minutes", 30)),
            metrics=metrics,
        )
        cursor = conn.cursor()
        try:
            dynamodb = aws_client("dynamodb", settings)
            calendar = export_calendar_from_dynamodb(dynamodb, settings.table, cursor, "snowflake")
        finally:
            cursor.close()
    finally:
        conn.close()
    metrics.add_metric(name=metric.CALENDAR_SESSIONS_EXPORTED, unit=MetricUnit.Count, value=calendar.exported)
    metrics.add_metric(name=metric.CALENDAR_ITEMS_INVALID, unit=MetricUnit.Count, value=len(calendar.invalid))
    for bad in calendar.invalid:
        logger.warning("calendar item not exported", extra={"pk": bad.pk, "error": bad.error})
    logger.info("race calendar exported", extra={"table": settings.table, **calendar.summary()})
    return {**report.summary(), "calendar": calendar.summary()}
