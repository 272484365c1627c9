"""The scheduler Lambda's events, one discriminated union on ``action``, validated at the edge.

A bad event raises :class:`f1common.events.BadRequest` naming the field:
- `{"action": "schedule"}` (default; what the recurring EventBridge schedule sends)
- `{"action": "sync", "season": 2025}`, `{"action": "sync", "seasons": [2025, 2026]}`; no season: the current one;
  `"include_current": true`: the seasons named and the current one (the stack's daily sync and first deploy)
- `{"action": "schedule", "sync_seasons": [2025]}` syncs first (a failed sync is reported, not fatal)
- `{"action": "backfill", "from_season": 2023, "to_season": 2025, "sessions": ["R", "Q"]}` (`"retry_failed": false`:
  only the sessions never tried)
Every event may carry `"now"` (ISO-8601) to run at a simulated instant (the local time machine).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from f1common.errors import MESSAGE_LIMIT, bounded, describe_validation_error, shorten
from f1common.events import BadRequest
from f1common.sessions import FIRST_SEASON, LAST_SEASON, SessionType

Season = Annotated[int, Field(ge=FIRST_SEASON, le=LAST_SEASON, strict=True)]  # a JSON integer, never "2023"


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    now: dt.datetime | None = Field(default=None, description="Simulated current instant (local replays)")

    @model_validator(mode="after")
    def _aware(self) -> _Event:
        if self.now is not None and self.now.tzinfo is None:
            raise ValueError("now must carry a time zone, e.g. 2025-03-16T08:00:00Z")
        return self


class ScheduleEvent(_Event):
    action: Literal["schedule"] = "schedule"
    sync_seasons: list[Season] = Field(default_factory=list, description="Seasons to sync first")
    lookahead_minutes: int | None = Field(default=None, ge=0, le=24 * 60, strict=True)


class SyncEvent(_Event):
    action: Literal["sync"]
    season: Season | None = None
    seasons: list[Season] = Field(default_factory=list)
    include_current: bool = Field(
        default=False, strict=True, description="Sync the current season too (the daily sync of the configured ones)"
    )

    def all_seasons(self, now: dt.datetime) -> list[int]:
        """The seasons named (and the current one with `include_current`), or the current one when none is."""
        named = {*self.seasons, *([self.season] if self.season is not None else [])}
        if self.include_current or not named:
            named.add(now.year)
        return sorted(named)


class BackfillEvent(_Event):
    action: Literal["backfill"]
    from_season: Season
    to_season: Season
    sessions: list[SessionType] | None = Field(default=None, description="Only these session types")
    sync: bool = Field(default=True, strict=True, description="Sync the seasons' calendars first")
    retry_failed: bool = Field(default=True, strict=True, description="Also retry FAILED sessions (else PENDING only)")

    @model_validator(mode="before")
    @classmethod
    def _parse_sessions(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("sessions"), list):
            data = {**data, "sessions": [SessionType.parse(s) for s in data["sessions"]]}
        return data

    @model_validator(mode="after")
    def _ordered(self) -> BackfillEvent:
        if self.from_season > self.to_season:
            raise ValueError(f"from_season {self.from_season} is after to_season {self.to_season}")
        return self


SchedulerEvent = Annotated[ScheduleEvent | SyncEvent | BackfillEvent, Field(discriminator="action")]
_EVENT = TypeAdapter(SchedulerEvent)


def parse_event(event: Any) -> ScheduleEvent | SyncEvent | BackfillEvent:
    if event is None:
        event = {}
    if not isinstance(event, dict):
        raise BadRequest(f"invalid scheduler event: expected an object, got {type(event).__name__} {bounded(event)}")
    event = {k: v for k, v in event.items() if k not in _EVENTBRIDGE_KEYS}
    event.setdefault("action", "schedule")
    try:
        return _EVENT.validate_python(event)
    except ValidationError as exc:
        raise BadRequest(f"invalid scheduler event: {describe_validation_error(exc, '(event)')}") from None
    except ValueError as exc:
        raise BadRequest(f"invalid scheduler event: {shorten(str(exc), MESSAGE_LIMIT)}") from None


# Keys EventBridge adds when a rule (not Scheduler) delivers the event; ignored.
_EVENTBRIDGE_KEYS = frozenset(
    {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
)
