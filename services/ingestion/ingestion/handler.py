"""The ingestion Lambda: parse the event at the edge, call a plain function, return its outcome as JSON.

Events, one discriminated union on ``kind`` (:data:`ingestion.events.IngestionEvent`):

* an :class:`~f1common.events.IngestionRequest` (no ``kind``, or ``"session"``: ``season``, ``round``,
  ``session`` [, ``attempt``, ``reason``, ``requested_at``]) -> :func:`ingestion.ingest.ingest_session`;
* ``{"kind": "schedule", "season": 2025}`` -> :func:`ingestion.schedule_landing.land_schedule`
  (when it changed);
* ``{"kind": "ergast_backfill"[, "dump": DIR]}`` -> :func:`backfill_ergast`: the offline dump directory
  (``settings.ergast_dir``; a DIR outside it is refused) when there is one, else the published dump at
  ``settings.ergast_dump_url`` (the cloud; :mod:`ingestion.ergast_download`).

The handler logs a bounded summary of the event (:func:`f1common.observability.event_summary`), never the
whole payload.

A bad event raises :class:`~f1common.events.BadRequest` naming the field (the invocation fails and
the scheduler's dead-letter queue keeps it); nothing is written.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from f1common.clients import aws_client
from f1common.names import SERVICE_INGESTION
from f1common.observability import event_summary, service_logger
from f1common.settings import Settings
from ingestion.ergast_download import fetched_dump
from ingestion.ergast_landing import BackfillResult, land_ergast
from ingestion.events import BackfillRequest, ScheduleRequest, allowed_dump, parse_event
from ingestion.ingest import ingest_session
from ingestion.observability import metrics
from ingestion.schedule_landing import land_schedule

logger = service_logger(SERVICE_INGESTION)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    logger.info("event received", extra={"event": event_summary(event)})
    settings = Settings()
    s3, dynamodb = clients(settings)
    return route(event, settings=settings, s3=s3, dynamodb=dynamodb)


def clients(settings: Settings) -> tuple[Any, Any]:
    """The handler's S3 and DynamoDB clients (made once per process, then cached: `f1common.clients`)."""
    return aws_client("s3", settings), aws_client("dynamodb", settings)


def warm() -> None:
    """What a Lambda's init phase does before the first event: the settings read and the AWS clients made (cached
    for every invocation after). A local worker process started ahead calls it (`grandprix_local.dispatcher`), so
    that its first delivery pays neither."""
    clients(Settings())


def backfill_ergast(request: BackfillRequest, *, s3: Any, settings: Settings) -> BackfillResult:
    """Lands the Ergast history from the configured source: the dump directory, else the dump URL."""
    progress = logger.info
    if request.dump is not None or settings.ergast_dir is not None or settings.ergast_dump_url is None:
        return land_ergast(allowed_dump(request.dump, settings.ergast_dir), s3=s3, settings=settings, progress=progress)
    with fetched_dump(settings.ergast_dump_url) as dump:
        return land_ergast(dump, s3=s3, settings=settings, progress=progress)


def route(event: Any, *, settings: Settings, s3: Any, dynamodb: Any) -> dict[str, Any]:
    """Parses one event and runs the function it asks for; returns a JSON-serialisable result."""
    parsed = parse_event(event)
    if isinstance(parsed, ScheduleRequest):
        landing = land_schedule(parsed.season, s3=s3, settings=settings)
        rows = {"schedule": landing.rows}
        return {"kind": parsed.kind, "run_id": landing.run_id, "rows": rows, "skipped": landing.skipped}
    if isinstance(parsed, BackfillRequest):
        result = backfill_ergast(parsed, s3=s3, settings=settings)
        return {
            "kind": parsed.kind,
            "run_id": result.run_id,
            "skipped": result.skipped,
            "existing_run_id": result.existing_run_id,
            "source_version": result.source_version,
            "rows": result.rows,
        }
    outcome = ingest_session(parsed, s3=s3, dynamodb_table_or_client=dynamodb, settings=settings)
    return outcome.model_dump(mode="json")
