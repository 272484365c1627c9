"""The ingestion Lambda: parse the event, call a plain function, return its outcome as JSON.

Events:
* an :class:`~f1common.events.IngestionRequest` (``season``, ``round``, ``session`` [, ``attempt``,
  ``reason``, ``requested_at``]) -> :func:`ingestion.ingest.ingest_session`;
* ``{"kind": "schedule", "season": 2025}`` -> :func:`ingestion.schedule_landing.land_schedule`;
* ``{"kind": "ergast_backfill"[, "dump": DIR]}`` -> :func:`ingestion.backfill.land_ergast` (default dump:
  ``settings.ergast_dir``).

A bad event raises :class:`~f1common.events.BadRequest` naming the field (the invocation fails and
the scheduler's dead-letter queue keeps it); nothing is written.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from f1common.clients import aws_client
from f1common.errors import describe_validation_error
from f1common.events import BadRequest, IngestionRequest
from f1common.sessions import FIRST_SEASON, LAST_SEASON
from f1common.settings import Settings
from ingestion.backfill import land_ergast
from ingestion.ingest import ingest_session
from ingestion.observability import logger
from ingestion.schedule_landing import land_schedule


class ScheduleRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["schedule"]
    season: int = Field(ge=FIRST_SEASON, le=LAST_SEASON)


class BackfillRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["ergast_backfill"]
    dump: Path | None = Field(default=None, description="Dump directory; default: settings.ergast_dir")


KINDS = ("schedule", "ergast_backfill")


@lru_cache(maxsize=1)
def _settings() -> Settings:
    return Settings()


@logger.inject_lambda_context(log_event=True)
def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    settings = _settings()
    return route(event, settings=settings, s3=aws_client("s3", settings), dynamodb=aws_client("dynamodb", settings))


def route(event: Any, *, settings: Settings, s3: Any, dynamodb: Any) -> dict[str, Any]:
    """Dispatches one event to the function it asks for; returns a JSON-serialisable result."""
    if isinstance(event, (str, bytes)):
        try:
            event = json.loads(event)
        except json.JSONDecodeError as exc:
            raise BadRequest(f"invalid event: (payload): not JSON: {exc}") from None
    if isinstance(event, dict) and "kind" in event:
        kind = event["kind"]
        if kind == "schedule":
            schedule = _parse(ScheduleRequest, event, "schedule request")
            manifest = land_schedule(schedule.season, s3=s3, settings=settings)
            return {"kind": kind, "run_id": manifest.run_id, "rows": manifest.rows}
        if kind == "ergast_backfill":
            backfill = _parse(BackfillRequest, event, "backfill request")
            dump = backfill.dump or settings.ergast_dir
            if dump is None or not dump.is_dir():
                raise BadRequest(f"invalid backfill request: dump: no Ergast dump directory at {dump}")
            result = land_ergast(dump, s3=s3, settings=settings, progress=lambda line: logger.info(line))
            return {
                "kind": kind,
                "run_id": result.run_id,
                "skipped": result.skipped,
                "existing_run_id": result.existing_run_id,
                "source_version": result.source_version,
                "rows": result.rows,
            }
        raise BadRequest(f"invalid event: kind: expected one of {', '.join(KINDS)} or none, got {kind!r}")
    request = IngestionRequest.parse(event)
    outcome = ingest_session(request, s3=s3, dynamodb_table_or_client=dynamodb, settings=settings)
    return outcome.model_dump(mode="json")


def _parse(model: type[Any], event: dict[str, Any], what: str) -> Any:
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        raise BadRequest(f"invalid {what}: {describe_validation_error(exc)}") from None
