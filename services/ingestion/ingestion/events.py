"""The ingestion Lambda's events: one discriminated union on ``kind``, validated at the edge.

* an :class:`~f1common.events.IngestionRequest` (no ``kind``, or ``"session"``), what the scheduler's
  schedules send;
* :class:`ScheduleRequest` (``{"kind": "schedule", "season": 2025}``);
* :class:`BackfillRequest` (``{"kind": "ergast_backfill"[, "dump": DIR]}``).

A bad event raises :class:`~f1common.events.BadRequest` naming the field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter, ValidationError

from f1common.errors import bounded, describe_validation_error
from f1common.events import BadRequest, IngestionRequest
from f1common.sessions import FIRST_SEASON, LAST_SEASON


class ScheduleRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["schedule"]
    season: int = Field(ge=FIRST_SEASON, le=LAST_SEASON, strict=True)


class BackfillRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["ergast_backfill"]
    dump: Path | None = Field(
        default=None, description="Dump directory, inside settings.ergast_dir (the only location allowed); default: it"
    )


KINDS = ("session", "schedule", "ergast_backfill")


def _kind(value: Any) -> str | None:
    kind = value.get("kind", "session") if isinstance(value, dict) else getattr(value, "kind", None)
    return kind if isinstance(kind, str) else None


IngestionEvent = Annotated[
    Annotated[IngestionRequest, Tag("session")]
    | Annotated[ScheduleRequest, Tag("schedule")]
    | Annotated[BackfillRequest, Tag("ergast_backfill")],
    Discriminator(
        _kind,
        custom_error_type="invalid_kind",
        custom_error_message=f"expected one of {', '.join(KINDS)} (none: a session)",
    ),
]
_EVENT = TypeAdapter(IngestionEvent)


def parse_event(event: Any) -> IngestionRequest | ScheduleRequest | BackfillRequest:
    """Validates a raw event (an object, or its JSON); raises :class:`BadRequest` naming the bad field(s)."""
    if isinstance(event, (str, bytes)):
        try:
            event = json.loads(event)
        except json.JSONDecodeError as exc:
            raise BadRequest(f"invalid event: (payload): not JSON: {exc.msg} at {exc.pos}: {bounded(event)}") from None
    if not isinstance(event, dict):  # double-encoded JSON (a JSON string of an object) is refused here too
        raise BadRequest(f"invalid event: expected an object, got {type(event).__name__} {bounded(event)}")
    try:
        return _EVENT.validate_python(event)
    except ValidationError as exc:
        raise BadRequest(f"invalid event: {describe_validation_error(exc, 'kind')}") from None


def allowed_dump(requested: Path | None, configured: Path | None) -> Path:
    """The Ergast dump directory to read: `configured` (settings.ergast_dir), or a directory inside it.

    An event may not point the Lambda at any other directory: a path outside the configured location (after
    resolving `..` and links), or any path when none is configured, is a :class:`BadRequest`.
    """
    if configured is None:
        raise BadRequest(
            "invalid backfill request: dump: no Ergast dump location is configured (neither a dump directory nor "
            "GPI_ERGAST_DUMP_URL)"
        )
    root = configured.resolve()
    dump = root if requested is None else (root / requested).resolve()
    if dump != root and not dump.is_relative_to(root):
        raise BadRequest(
            f"invalid backfill request: dump: {bounded(str(requested))} is outside the configured location"
        )
    if not dump.is_dir():
        raise BadRequest(f"invalid backfill request: dump: no Ergast dump directory at {bounded(str(requested))}")
    return dump
