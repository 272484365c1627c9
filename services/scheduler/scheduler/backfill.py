"""Backfill: schedule every past session of a season range that is not ingested, within FastF1's limits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from f1common.datasets import ScheduleRow
from f1common.events import CalendarStatus, IngestionRequest
from f1common.names import SERVICE_SCHEDULER
from f1common.observability import child_logger
from f1common.race_calendar import RaceCalendar
from f1common.sessions import SessionType
from scheduler.planning import MIN_LEAD, SchedulingPolicy, claim
from scheduler.ratelimit import SESSION_COST, RateLimiter
from scheduler.schedules import ScheduleTarget
from scheduler.sync import SyncReport, sync_and_land

logger = child_logger(SERVICE_SCHEDULER)

# FAILED sessions are retried by a backfill; NOT_AVAILABLE ones are the recurring run's retries.
BACKFILL_STATUSES = (CalendarStatus.PENDING, CalendarStatus.FAILED)


@dataclass
class BackfillReport:
    seasons: list[int]
    synced: list[SyncReport] = field(default_factory=list)
    scheduled: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # status -> count of sessions left alone
    invalid: list[str] = field(default_factory=list)
    first_at: dt.datetime | None = None
    last_at: dt.datetime | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "seasons": self.seasons,
            "synced": [s.summary() for s in self.synced],
            "scheduled": len(self.scheduled),
            "already": len(self.already),
            "skipped": self.skipped,
            "invalid": self.invalid,
            "first_at": self.first_at.isoformat() if self.first_at else None,
            "last_at": self.last_at.isoformat() if self.last_at else None,
        }


def run_backfill(
    seasons: list[int],
    now: dt.datetime,
    table: RaceCalendar,
    scheduler: Any,
    target: ScheduleTarget,
    policy: SchedulingPolicy,
    limiter: RateLimiter,
    load: Callable[[int], list[ScheduleRow]] | None = None,
    session_types: Collection[SessionType] | None = None,
    retry_failed: bool = True,
) -> BackfillReport:
    """Schedules past, not-ingested sessions of `seasons` at times the rate limiter books.

    With `load` the seasons' calendars are synced first. The limiter is seeded with the sessions
    already scheduled in the future, so repeated backfills do not pile up on the same hour. Without
    `retry_failed` only PENDING sessions (never tried) are scheduled.
    """
    statuses = BACKFILL_STATUSES if retry_failed else (CalendarStatus.PENDING,)
    report = BackfillReport(seasons=seasons)
    if load is not None:
        for season in seasons:
            report.synced.append(sync_and_land(season, load(season), table, scheduler, target, now))
    scan = table.scan()
    report.invalid.extend(f"{bad.pk}: {bad.error}" for bad in scan.invalid)
    booked = sorted(
        (
            i.next_attempt_utc
            for i in scan.items
            if i.status is CalendarStatus.SCHEDULED and i.next_attempt_utc and i.next_attempt_utc >= now
        ),
    )
    for when in booked:
        limiter.reserve(SESSION_COST, not_before=when)
    for item in scan.items:
        if item.season not in seasons or (session_types and item.session not in session_types):
            continue
        if item.status not in statuses or policy.available_at(item) > now:
            label = "future" if item.status in statuses else item.status.value
            report.skipped[label] = report.skipped.get(label, 0) + 1
            continue
        when = limiter.reserve(SESSION_COST, not_before=now + MIN_LEAD)
        request = IngestionRequest.for_session(
            item.session_id, attempt=item.attempt + 1, reason="backfill", requested_at=now
        )
        if claim(item, request, when, now, table, scheduler, target, report.scheduled):
            report.first_at = min(report.first_at or when, when)
            report.last_at = max(report.last_at or when, when)
        else:
            report.already.append(item.pk)
    logger.info("backfill planned", extra={"report": report.summary()})
    return report
