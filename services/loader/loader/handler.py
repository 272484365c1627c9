"""Lambda entry points of the loader: a thin layer over plain functions that take their clients.

- :func:`handler`: SQS batch of S3 event notifications -> staging tables (DuckDB file or Snowflake, per
  ``settings.warehouse``), reporting failed messages as ``batchItemFailures``.
- :func:`health_handler`: scheduled load-health check of recent manifests against Snowflake's
  COPY_HISTORY and the pipes' status, as metrics, logs and the findings in ``staging.load_health``; it then
  exports the DynamoDB race calendar into ``staging.race_calendar``, both for the pipeline-health dashboard.
  The embedded stack runs it on its DuckDB file (``settings.warehouse``).

In the cloud the Snowflake connection (key-pair auth, the key from Secrets Manager with caching) is made
once per warm container. Each handler logs a bounded summary of its event
(:func:`f1common.observability.event_summary`), never the payload: ``log_event=False`` whatever
``POWERTOOLS_LOGGER_LOG_EVENT`` says.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from f1common.clients import aws_client
from f1common.names import SERVICE_LOADER
from f1common.observability import event_summary, service_logger, service_metrics
from f1common.settings import Settings
from loader.consumer import process_sqs_batch
from loader.load_health import HealthCheck, health_check
from loader.loading import StagingWarehouse

logger = service_logger(SERVICE_LOADER)
metrics = service_metrics(SERVICE_LOADER)


@contextmanager
def open_warehouse(settings: Settings) -> Iterator[StagingWarehouse]:
    """The configured warehouse: the DuckDB file locally, Snowflake (the container's connection) in the cloud."""
    if settings.warehouse == "snowflake":
        from loader.snowflake_warehouse import container_warehouse

        yield container_warehouse(settings, secrets=aws_client("secretsmanager", settings))
    else:
        from loader.duckdb_warehouse import DuckDBWarehouse

        with DuckDBWarehouse.open(settings.warehouse_path) as duck:
            yield duck


@contextmanager
def warehouse_connection(settings: Settings) -> Iterator[Any]:
    """The configured warehouse's DB-API connection: the container's Snowflake connection (kept for the next
    invocation), or the DuckDB file's (closed after)."""
    if settings.warehouse == "snowflake":
        from loader.snowflake_auth import warehouse_connection as snowflake_connection

        yield snowflake_connection(settings, secrets=aws_client("secretsmanager", settings))
    else:
        from loader.duckdb_warehouse import DuckDBWarehouse

        with DuckDBWarehouse.open(settings.warehouse_path) as duck:
            yield duck.con


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True, log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.info("event received", extra={"event": event_summary(event)})  # bounded: never the whole batch
    settings = Settings()
    with open_warehouse(settings) as warehouse:
        s3 = aws_client("s3", settings)
        return process_sqs_batch(
            event, s3=s3, bucket=settings.bucket, warehouse=warehouse, metrics=metrics, context=context
        )


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True, log_event=False)
def health_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Event (optional): ``{"lookback_hours": 24, "grace_minutes": 30}``."""
    logger.info("event received", extra={"event": event_summary(event)})
    request = HealthCheck.parse(event)
    settings = Settings()
    s3, dynamodb = aws_client("s3", settings), aws_client("dynamodb", settings)
    with warehouse_connection(settings) as conn:
        return health_check(request, settings, conn, s3=s3, dynamodb=dynamodb, metrics=metrics)
