"""The f1RaceScheduler Lambda: calendar sync, recurring scheduling and backfill.

Events (validated at the edge; a bad one raises :class:`f1common.events.BadRequest` naming the field):
- `{"action": "schedule"}` (default; what the recurring EventBridge schedule sends)
- `{"action": "sync", "season": 2025}`, `{"action": "sync", "seasons": [2025, 2026]}`; no season: the current one
- `{"action": "schedule", "sync_seasons": [2025]}` syncs first (a failed sync is reported, not fatal)
- `{"action": "backfill", "from_season": 2023, "to_season": 2025, "sessions": ["R", "Q"]}`
Every event may carry `"now"` (ISO-8601) to run at a simulated instant (the local time machine).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from f1common import metrics as metric
from f1common.clients import aws_client
from f1common.clock import utc_now
from f1common.datasets import ScheduleRow
from f1common.errors import describe_validation_error
from f1common.events import BadRequest
from f1common.names import METRICS_NAMESPACE, SERVICE_SCHEDULER
from f1common.race_calendar import RaceCalendar
from f1common.schedule import ScheduleError, load_schedule
from f1common.sessions import FIRST_SEASON, LAST_SEASON, SessionType
from f1common.settings import Settings
from scheduler.backfill import run_backfill
from scheduler.planning import SchedulingPolicy, run_scheduling
from scheduler.ratelimit import fastf1_limiter
from scheduler.schedules import ScheduleTarget
from scheduler.sync import SyncReport, sync_season

logger = Logger(service=SERVICE_SCHEDULER)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_SCHEDULER)

Season = Annotated[int, Field(ge=FIRST_SEASON, le=LAST_SEASON)]


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
    lookahead_minutes: int | None = Field(default=None, ge=0, le=24 * 60)


class SyncEvent(_Event):
    action: Literal["sync"]
    season: Season | None = None
    seasons: list[Season] = Field(default_factory=list)

    def all_seasons(self, now: dt.datetime) -> list[int]:
        """The seasons named, or the current one (a daily recurring sync sends no season)."""
        named = {*self.seasons, *([self.season] if self.season is not None else [])}
        return sorted(named or {now.year})


class BackfillEvent(_Event):
    action: Literal["backfill"]
    from_season: Season
    to_season: Season
    sessions: list[SessionType] | None = Field(default=None, description="Only these session types")
    sync: bool = Field(default=True, description="Sync the seasons' calendars first")

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
        raise BadRequest(f"invalid scheduler event: expected an object, got {type(event).__name__}")
    event = {k: v for k, v in event.items() if k not in _EVENTBRIDGE_KEYS}
    event.setdefault("action", "schedule")
    try:
        return _EVENT.validate_python(event)
    except ValidationError as exc:
        raise BadRequest(f"invalid scheduler event: {describe_validation_error(exc, '(event)')}") from None
    except ValueError as exc:
        raise BadRequest(f"invalid scheduler event: {exc}") from None


# Keys EventBridge adds when a rule (not Scheduler) delivers the event; ignored.
_EVENTBRIDGE_KEYS = frozenset(
    {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
)


@dataclass(frozen=True)
class Clients:
    dynamodb: Any
    scheduler: Any
    sqs: Any

    @classmethod
    def from_settings(cls, settings: Settings) -> Clients:
        return cls(
            dynamodb=aws_client("dynamodb", settings),
            scheduler=aws_client("scheduler", settings),
            sqs=aws_client("sqs", settings),
        )


def run_event(
    event: Any,
    settings: Settings,
    clients: Clients,
    now: dt.datetime | None = None,
    load: Callable[[int], list[ScheduleRow]] | None = None,
) -> dict[str, Any]:
    """Runs one scheduler event with explicit clients; returns a JSON-able summary with `counts`."""
    parsed = parse_event(event)
    now = parsed.now or now or utc_now()
    load = load or (lambda season: load_schedule(season, settings))
    table = RaceCalendar(clients.dynamodb, settings.table)
    target = ScheduleTarget.from_settings(settings, clients.sqs)
    if isinstance(parsed, SyncEvent):
        seasons = parsed.all_seasons(now)
        reports = [sync_season(s, load(s), table, clients.scheduler, target.group, now) for s in seasons]
        return {
            "action": "sync",
            "seasons": [r.summary() for r in reports],
            "counts": {
                metric.SESSIONS_SYNCED: sum(len(r.created) + len(r.updated) + len(r.restored) for r in reports),
                metric.SESSIONS_CANCELLED: sum(len(r.cancelled) for r in reports),
                metric.CALENDAR_ITEMS_INVALID: sum(len(r.skipped) + len(r.invalid) for r in reports),
            },
        }
    if isinstance(parsed, BackfillEvent):
        seasons = list(range(parsed.from_season, parsed.to_season + 1))
        backfill = run_backfill(
            seasons,
            now,
            table,
            clients.scheduler,
            target,
            SchedulingPolicy.from_settings(settings),
            fastf1_limiter(start=now, clock=lambda: now),
            load=load if parsed.sync else None,
            session_types=parsed.sessions,
        )
        return {
            "action": "backfill",
            **backfill.summary(),
            "counts": {
                metric.SESSIONS_SCHEDULED: len(backfill.scheduled),
                metric.CALENDAR_ITEMS_INVALID: len(backfill.invalid),
            },
        }
    synced: list[SyncReport] = []
    sync_errors: list[str] = []
    for season in parsed.sync_seasons:  # a schedule source outage must not stop the scheduling itself
        try:
            synced.append(sync_season(season, load(season), table, clients.scheduler, target.group, now))
        except ScheduleError as exc:
            sync_errors.append(str(exc))
            logger.error("calendar sync failed; scheduling from the stored calendar", extra={"error": str(exc)})
    lookahead = dt.timedelta(minutes=parsed.lookahead_minutes) if parsed.lookahead_minutes is not None else None
    report = run_scheduling(
        now, table, clients.scheduler, target, SchedulingPolicy.from_settings(settings, lookahead=lookahead)
    )
    return {
        "action": "schedule",
        "synced": [s.summary() for s in synced],
        "sync_errors": sync_errors,
        **report.summary(),
        "counts": {
            metric.SESSIONS_SCHEDULED: len(report.scheduled),
            metric.RETRIES_SCHEDULED: len(report.retries),
            metric.SESSIONS_OVERDUE: len(report.overdue),
            metric.SESSIONS_STALE: len(report.stale),
            metric.SESSIONS_FAILED: len(report.failed),
            metric.CALENDAR_ITEMS_INVALID: len(report.invalid),
        },
    }


@logger.inject_lambda_context(log_event=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = Settings()
    result = run_event(event, settings, Clients.from_settings(settings))
    for name, value in result["counts"].items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    logger.info("scheduler run complete", extra={"action": result["action"], "counts": result["counts"]})
    return result
