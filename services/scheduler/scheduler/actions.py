"""The scheduler's three actions (sync, schedule, backfill) over explicit clients: what the Lambda runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from f1common import metrics as metric
from f1common.clients import aws_client
from f1common.clock import utc_now
from f1common.datasets import ScheduleRow
from f1common.names import SERVICE_SCHEDULER
from f1common.observability import child_logger
from f1common.race_calendar import RaceCalendar
from f1common.schedule import ScheduleError, load_schedule
from f1common.settings import Settings
from scheduler.backfill import run_backfill
from scheduler.events import BackfillEvent, SyncEvent, parse_event
from scheduler.planning import SchedulingPolicy, run_scheduling
from scheduler.ratelimit import fastf1_limiter
from scheduler.schedules import ScheduleTarget
from scheduler.sync import SyncReport, sync_and_land

logger = child_logger(SERVICE_SCHEDULER)


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
        reports = [sync_and_land(s, load(s), table, clients.scheduler, target, now) for s in seasons]
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
            retry_failed=parsed.retry_failed,
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
            synced.append(sync_and_land(season, load(season), table, clients.scheduler, target, now))
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
