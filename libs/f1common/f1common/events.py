"""Payloads exchanged between services, validated at the edge."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from f1common.errors import bounded, describe_validation_error
from f1common.sessions import FIRST_SEASON, LAST_SEASON, MAX_ROUND, SessionId, SessionType

MAX_ATTEMPT = 100  # the last attempt number a session may reach (retries included); then it is FAILED


class BadRequest(ValueError):
    """A payload failed validation; the message names each offending field."""


def _describe(exc: ValidationError, what: str) -> str:
    return f"invalid {what}: {describe_validation_error(exc)}"


class IngestionRequest(BaseModel):
    """Ask the ingestion service to land one session. This is the Scheduler target's `Input`.

    Parsed strictly: numbers must be JSON integers (``"2023"`` and ``true`` are refused), the session a
    string, `requested_at` an ISO-8601 instant with a time zone; no other fields.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["session"] = Field(default="session", exclude=True, description="The ingestion event's kind")
    season: int = Field(ge=FIRST_SEASON, le=LAST_SEASON, strict=True)
    round: int = Field(ge=1, le=MAX_ROUND, strict=True)
    session: SessionType = Field(description="Session type; accepts codes, FastF1 names and aliases")
    attempt: int = Field(default=1, ge=1, le=MAX_ATTEMPT, strict=True, description="1 for the first try")
    reason: Literal["scheduled", "retry", "backfill", "manual"] = "scheduled"
    requested_at: AwareDatetime | None = None

    @field_validator("session", mode="before")
    @classmethod
    def _session_type(cls, value: Any) -> Any:
        try:
            return SessionType.parse(value)
        except ValueError as exc:
            raise PydanticCustomError("session_type", "{reason}", {"reason": str(exc)}) from None

    @property
    def session_id(self) -> SessionId:
        return SessionId(season=self.season, round=self.round, session=self.session)

    @classmethod
    def for_session(cls, session: SessionId, **kwargs: Any) -> IngestionRequest:
        return cls(season=session.season, round=session.round, session=session.session, **kwargs)

    @classmethod
    def parse(cls, payload: Any) -> IngestionRequest:
        """Validates a raw event; raises :class:`BadRequest` naming the bad field(s)."""
        if isinstance(payload, (str, bytes)):
            try:
                return cls.model_validate_json(payload)
            except ValidationError as exc:
                raise BadRequest(_describe(exc, "ingestion request")) from None
        if not isinstance(payload, dict):
            raise BadRequest(
                f"invalid ingestion request: expected an object, got {type(payload).__name__} {bounded(payload)}"
            )
        try:
            return cls.model_validate(payload)
        except ValidationError as exc:
            raise BadRequest(_describe(exc, "ingestion request")) from None

    def to_payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class OutcomeStatus(str, Enum):
    INGESTED = "ingested"  # a new complete run landed
    DUPLICATE = "duplicate"  # already ingested (or being ingested) by another delivery
    NOT_AVAILABLE = "not_available"  # the source has not published the session yet: reschedule


class IngestionOutcome(BaseModel):
    """What the ingestion service returns (and records in the race calendar)."""

    model_config = ConfigDict(frozen=True)

    status: OutcomeStatus
    session: SessionId
    attempt: int = 1
    run_id: str | None = None
    rows: dict[str, int] = Field(default_factory=dict)
    missing: list[str] = Field(default_factory=list, description="Datasets the source did not provide")
    message: str = ""


class CalendarStatus(str, Enum):
    """Lifecycle of a session in the race calendar."""

    PENDING = "PENDING"  # known, not yet due
    SCHEDULED = "SCHEDULED"  # a one-time ingestion schedule exists
    NOT_AVAILABLE = "NOT_AVAILABLE"  # the last attempt found no data yet; a retry is due
    INGESTED = "INGESTED"
    FAILED = "FAILED"  # retries exhausted; left for the alarm
    CANCELLED = "CANCELLED"  # the session vanished from the official schedule


class CalendarItem(BaseModel):
    """One session in the DynamoDB race calendar (key: `pk` = session key).

    Instants carry a time zone (a naive one is refused: the item is reported invalid, never guessed).
    `version` counts the item's writes (every :meth:`f1common.race_calendar.RaceCalendar.update` adds 1): a
    decision taken on a read expects the version it read, so a concurrent write of any field wins over it.
    """

    model_config = ConfigDict(extra="ignore")

    pk: str
    season: int
    round: int
    session: SessionType
    event_name: str
    country: str | None = None
    location: str | None = None
    session_name: str
    start_utc: AwareDatetime
    end_utc: AwareDatetime
    status: CalendarStatus = CalendarStatus.PENDING
    attempt: int = 0
    version: int = 0
    next_attempt_utc: AwareDatetime | None = None
    schedule_name: str | None = None
    run_id: str | None = None
    rows: dict[str, int] = Field(default_factory=dict)
    missing: list[str] = Field(default_factory=list)
    ingested_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    message: str | None = None

    @property
    def session_id(self) -> SessionId:
        return SessionId(season=self.season, round=self.round, session=self.session)
