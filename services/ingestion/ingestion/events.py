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

from f1common.errors import describe_validation_error
from f1common.events import BadRequest, IngestionRequest
from f1common.sessions import FIRST_SEASON, LAST_SEASON


class ScheduleRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["schedule"]
    season: int = Field(ge=FIRST_SEASON, le=LAST_SEASON)


class BackfillRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["ergast_backfill"]
    dump: Path | None = Field(default=None, description="Dump directory; default: settings.ergast_dir")


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
            raise BadRequest(f"invalid event: (payload): not JSON: {exc}") from None
    if not isinstance(event, dict):
        raise BadRequest(f"invalid event: expected an object, got {type(event).__name__}")
    try:
        return _EVENT.validate_python(event)
    except ValidationError as exc:
        raise BadRequest(f"invalid event: {describe_validation_error(exc, 'kind')}") from None
