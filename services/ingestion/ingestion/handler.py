"""The ingestion Lambda: parse the event at the edge, call a plain function, return its outcome as JSON.

Events, one discriminated union on ``kind`` (:data:`ingestion.events.IngestionEvent`):

* an :class:`~f1common.events.IngestionRequest` (no ``kind``, or ``"session"``: ``season``, ``round``,
  ``session`` [, ``attempt``, ``reason``, ``requested_at``]) -> :func:`ingestion.ingest.ingest_session`;
* ``{"kind": "schedule", "season": 2025}`` -> :func:`ingestion.schedule_landing.land_schedule`;
* ``{"kind": "ergast_backfill"[, "dump": DIR]}`` -> :func:`ingestion.ergast_landing.land_ergast` (default dump:
  ``settings.ergast_dir``; a DIR outside it is refused).

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
from ingestion.ergast_landing import land_ergast
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
    return route(event, settings=settings, s3=aws_client("s3", settings), dynamodb=aws_client("dynamodb", settings))


def route(event: Any, *, settings: Settings, s3: Any, dynamodb: Any) -> dict[str, Any]:
    """Parses one event and runs the function it asks for; returns a JSON-serialisable result."""
    parsed = parse_event(event)
    if isinstance(parsed, ScheduleRequest):
        manifest = land_schedule(parsed.season, s3=s3, settings=settings)
        return {"kind": parsed.kind, "run_id": manifest.run_id, "rows": manifest.rows}
    if isinstance(parsed, BackfillRequest):
        dump = allowed_dump(parsed.dump, settings.ergast_dir)
        result = land_ergast(dump, s3=s3, settings=settings, progress=lambda line: logger.info(line))
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
