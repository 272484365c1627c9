"""Scheduling: one ingestion schedule per session when its data should be available, with retries."""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from f1common.errors import MESSAGE_LIMIT, shorten
from f1common.events import MAX_ATTEMPT, CalendarItem, CalendarStatus, IngestionRequest
from f1common.names import SERVICE_SCHEDULER
from f1common.observability import child_logger
from f1common.race_calendar import ConditionFailed, RaceCalendar
from f1common.settings import Settings
from scheduler.schedules import (
    ScheduleTarget,
    create_ingestion_schedule,
    delete_schedule,
    schedule_exists,
    schedule_name,
)

logger = child_logger(SERVICE_SCHEDULER)

MIN_LEAD = dt.timedelta(minutes=1)  # a schedule is never created in the past
DEFAULT_LOOKAHEAD = dt.timedelta(hours=2)  # > the hourly invocation period, so no session is late
DEFAULT_CATCH_UP = dt.timedelta(days=3)  # older unscheduled sessions are left to backfill
# A SCHEDULED session with no outcome this long after its time is re-driven (a new attempt). Longer than the
# ingestion's claim TTL (15 min, the Lambda timeout) plus EventBridge Scheduler's retry window (1 h): by then
# the delivery either landed, or died with its claim expired, or went to the dead-letter queue.
OVERDUE_GRACE = dt.timedelta(hours=2)
MAX_BACKOFF = dt.timedelta(days=1)  # the backoff doubles up to this cap (attempt 50 or 100 stays a day)
MIN_ATTEMPTS = 2  # a session is FAILED only after at least one retry, whatever the clocks say
ACTIONABLE = (CalendarStatus.PENDING, CalendarStatus.NOT_AVAILABLE, CalendarStatus.SCHEDULED)


@dataclass(frozen=True)
class SchedulingPolicy:
    delay: dt.timedelta
    retry_base: dt.timedelta
    retry_limit: dt.timedelta
    lookahead: dt.timedelta = DEFAULT_LOOKAHEAD
    catch_up: dt.timedelta = DEFAULT_CATCH_UP

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> SchedulingPolicy:
        values: dict[str, Any] = {
            "delay": dt.timedelta(minutes=settings.ingestion_delay_minutes),
            "retry_base": dt.timedelta(minutes=settings.retry_base_minutes),
            "retry_limit": dt.timedelta(hours=settings.retry_limit_hours),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def available_at(self, item: CalendarItem) -> dt.datetime:
        """When the session's data should be published: its expected end plus the delay."""
        return item.end_utc + self.delay


def backoff(attempt: int, base: dt.timedelta) -> dt.timedelta:
    """Wait before the attempt after `attempt` (1-based): base, 2*base, 4*base, ... capped at MAX_BACKOFF."""
    if attempt < 1:
        raise ValueError(f"attempt must be >= 1, got {attempt}")
    doublings = min(attempt - 1, (MAX_BACKOFF // base).bit_length())  # bounded: no overflow at any attempt
    return min(base * (2**doublings), MAX_BACKOFF)


@dataclass(frozen=True)
class RetryDecision:
    action: Literal["retry", "fail"]
    attempt: int  # the next attempt's number (retry) or the last attempt's (fail)
    when: dt.datetime
    waited: dt.timedelta  # from the expected end to `when`


def plan_retry(item: CalendarItem, now: dt.datetime, policy: SchedulingPolicy) -> RetryDecision:
    """After a NOT_AVAILABLE outcome (or an overdue SCHEDULED one): the next attempt, or FAILED.

    The retry comes at now + backoff(attempt). FAILED once it would come more than the limit after the
    expected end, but only after at least one retry (:data:`MIN_ATTEMPTS`: a scheduler clock hours fast does
    not fail a session on its first outcome), and at the latest at attempt :data:`MAX_ATTEMPT`.
    """
    last = max(item.attempt, 1)
    when = now + backoff(last, policy.retry_base)
    waited = when - item.end_utc
    exhausted = last >= MAX_ATTEMPT or (last >= MIN_ATTEMPTS and waited > policy.retry_limit)
    if exhausted:
        return RetryDecision(action="fail", attempt=last, when=now, waited=now - item.end_utc)
    return RetryDecision(action="retry", attempt=last + 1, when=when, waited=waited)


@dataclass
class SchedulingReport:
    now: dt.datetime
    scheduled: list[str] = field(default_factory=list)  # schedule names created (first attempts)
    retries: list[str] = field(default_factory=list)  # schedule names created for retries
    already: list[str] = field(default_factory=list)  # claimed by a concurrent invocation
    failed: list[str] = field(default_factory=list)  # marked FAILED after the retry limit
    overdue: list[str] = field(default_factory=list)  # SCHEDULED with no outcome by now: re-driven (or failed)
    stale: list[str] = field(default_factory=list)  # too old for the recurring run: backfill them
    invalid: list[str] = field(default_factory=list)  # "<pk>: <reason>" of items that failed: reported, skipped
    next_due: dt.datetime | None = None  # earliest time a further invocation has work (None: unknown): a PENDING
    # session becoming due, or a SCHEDULED one becoming overdue

    def summary(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "scheduled": self.scheduled,
            "retries": self.retries,
            "already": len(self.already),
            "failed": self.failed,
            "overdue": self.overdue,
            "stale": len(self.stale),
            "invalid": self.invalid,
            "next_due": self.next_due.isoformat() if self.next_due else None,
        }


@dataclass(frozen=True)
class _Run:
    """One recurring invocation's context: its clock, the calendar, where schedules go, the policy, the report."""

    now: dt.datetime
    table: RaceCalendar
    scheduler: Any
    target: ScheduleTarget
    policy: SchedulingPolicy
    report: SchedulingReport

    def claim(self, item: CalendarItem, request: IngestionRequest, when: dt.datetime, created: list[str]) -> bool:
        return claim(item, request, when, self.now, self.table, self.scheduler, self.target, created, self.report)


def run_scheduling(
    now: dt.datetime,
    table: RaceCalendar,
    scheduler: Any,
    target: ScheduleTarget,
    policy: SchedulingPolicy,
) -> SchedulingReport:
    """One recurring invocation: schedules due sessions and retries, fails exhausted ones."""
    report = SchedulingReport(now=now)
    run = _Run(now, table, scheduler, target, policy, report)
    # PENDING sessions not due within the lookahead are not read, only the earliest one's end (the hint)
    horizon = now + policy.lookahead - policy.delay
    scan = table.scan(statuses=ACTIONABLE, pending_ended_by=horizon)
    for bad in scan.invalid:
        report.invalid.append(f"{bad.pk}: {bad.error}")
        logger.warning("invalid calendar item skipped", extra={"session": bad.pk, "error": bad.error})
    next_due: dt.datetime | None = None
    for item in scan.items:  # each item on its own: a bad one is reported with its reason, the rest proceed
        try:
            due = _plan_item(item, run)
        except Exception as exc:
            reason = f"{item.pk}: {type(exc).__name__}: {shorten(str(exc), MESSAGE_LIMIT)}"
            report.invalid.append(reason)
            logger.warning("calendar item skipped", extra={"session": item.pk, "error": reason})
            continue
        if due is not None and (next_due is None or due < next_due):
            next_due = due
    later = table.earliest_pending_end(after=horizon)
    if later is not None:
        due_later = later + policy.delay - policy.lookahead
        next_due = due_later if next_due is None else min(next_due, due_later)
    report.next_due = next_due
    logger.info("scheduling run", extra={"report": report.summary()})
    return report


def _plan_item(item: CalendarItem, run: _Run) -> dt.datetime | None:
    if item.status is CalendarStatus.PENDING:
        return _schedule_first(item, run)
    if item.status is CalendarStatus.NOT_AVAILABLE:
        _schedule_retry(item, run)
    elif item.status is CalendarStatus.SCHEDULED and _overdue(item, run.now):
        run.report.overdue.append(item.pk)
        logger.warning("overdue session re-driven", extra={"session": item.pk, "attempt": item.attempt})
        _schedule_retry(item, run)
    elif item.status is CalendarStatus.SCHEDULED and item.next_attempt_utc is not None:
        return item.next_attempt_utc + OVERDUE_GRACE + MIN_LEAD  # when it would be overdue without an outcome
    return None


def _overdue(item: CalendarItem, now: dt.datetime) -> bool:
    return item.next_attempt_utc is not None and item.next_attempt_utc + OVERDUE_GRACE < now


def _schedule_first(item: CalendarItem, run: _Run) -> dt.datetime | None:
    """Schedules a PENDING session whose data is due within the lookahead; returns when it becomes
    schedulable if it is not yet."""
    now, policy = run.now, run.policy
    available = policy.available_at(item)
    if available > now + policy.lookahead:
        return available - policy.lookahead
    if available + policy.catch_up < now:
        run.report.stale.append(item.pk)
        return None
    request = IngestionRequest.for_session(
        item.session_id, attempt=item.attempt + 1, reason="scheduled", requested_at=now
    )
    run.claim(item, request, max(available, now + MIN_LEAD), run.report.scheduled)
    return None


def _schedule_retry(item: CalendarItem, run: _Run) -> None:
    now, report = run.now, run.report
    decision = plan_retry(item, now, run.policy)
    if decision.action == "fail":
        what = "no outcome" if item.status is CalendarStatus.SCHEDULED else "data not available"
        message = (
            f"{what} {decision.waited} after the expected end, attempt {decision.attempt} "
            f"(limit {run.policy.retry_limit}, at most {MAX_ATTEMPT} attempts)"
        )
        try:
            run.table.update(
                item.pk,
                {"status": CalendarStatus.FAILED, "next_attempt_utc": None, "updated_at": now, "message": message},
                expect={"status": item.status, "attempt": item.attempt, "version": item.version},
            )
        except ConditionFailed:
            report.already.append(item.pk)
            return
        report.failed.append(item.pk)
        logger.error("session failed", extra={"session": item.pk, "attempt": item.attempt, "reason": message})
        return
    request = IngestionRequest.for_session(item.session_id, attempt=decision.attempt, reason="retry", requested_at=now)
    run.claim(item, request, decision.when, report.retries)


def claim(
    item: CalendarItem,
    request: IngestionRequest,
    when: dt.datetime,
    now: dt.datetime,
    table: RaceCalendar,
    scheduler: Any,
    target: ScheduleTarget,
    created: list[str],
    report: SchedulingReport | None = None,
) -> bool:
    """Marks the item SCHEDULED if nobody else wrote it since it was read, then creates the schedule.

    The conditional write (on the version read, so on every field the decision read: times, status, attempt)
    decides which of two concurrent writers wins; the deterministic name makes the create itself idempotent
    (ConflictException = already there). A create that fails may have gone through all the same (a timeout: its
    answer lost): the claim stands when the schedule exists, and is undone when it does not; when that cannot
    be checked, the schedule is deleted (absent then: the claim is undone), and if that fails too the claim
    stands, naming a schedule that may be gone (re-driven once overdue). Each way no schedule is left that the
    item does not name; the create's error is raised unless the schedule is known to exist. If the item changed
    while the schedule was being created (a sync moved the session and reset it), the schedule is deleted again:
    no schedule outlives the claim it was made for.
    """
    name = schedule_name(request.session_id, request.attempt)
    try:
        claimed = table.update(
            item.pk,
            {
                "status": CalendarStatus.SCHEDULED,
                "attempt": request.attempt,
                "schedule_name": name,
                "next_attempt_utc": when,
                "updated_at": now,
            },
            expect={"status": item.status, "attempt": item.attempt, "version": item.version},
        )
    except ConditionFailed:
        return _lost(item, report)
    try:
        fresh = create_ingestion_schedule(scheduler, target, request, when)
    except Exception as exc:
        exists = schedule_exists(scheduler, target.group, name)
        if exists is None and _withdrawn(scheduler, target.group, name):  # cannot tell: absent once deleted
            exists = False
        if exists is False:
            with contextlib.suppress(ConditionFailed):  # written since our claim (a sync): nothing left to undo
                _undo(item, table, now, request.attempt, claimed)
            raise
        log = {"session": item.pk, "schedule": name, "error": type(exc).__name__}
        if exists is None:  # neither checked nor deleted: the claim names what may be there
            logger.warning("schedule create failed and its schedule may exist; the claim stands", extra=log)
            raise
        logger.warning("schedule created though its create failed; the claim stands", extra=log)
        fresh = True
    if fresh and not _still_claimed(table, item.pk, name, claimed):
        delete_schedule(scheduler, target.group, name)
        logger.warning("calendar item changed while scheduling; schedule withdrawn", extra={"session": item.pk})
        return _lost(item, report)
    if not fresh:  # the name exists: a concurrent invocation created it between our read and write
        return _lost(item, report)
    created.append(name)
    logger.info(
        "ingestion scheduled",
        extra={
            "session": item.pk,
            "schedule": name,
            "at": when.isoformat(),
            "attempt": request.attempt,
            "reason": request.reason,
        },
    )
    return True


def _withdrawn(scheduler: Any, group: str, name: str) -> bool:
    """Deletes the schedule if it exists; whether it is known to be gone."""
    try:
        delete_schedule(scheduler, group, name)
    except (ClientError, BotoCoreError, OSError):  # the scheduler refused or was unreachable: unknown
        return False
    return True


def _undo(item: CalendarItem, table: RaceCalendar, now: dt.datetime, attempt: int, claimed: int | None) -> None:
    """The item as it was before our claim (`claimed`: the version the claim wrote), if nobody wrote it since."""
    table.update(
        item.pk,
        {
            "status": item.status,
            "attempt": item.attempt,
            "schedule_name": item.schedule_name,
            "next_attempt_utc": item.next_attempt_utc,
            "updated_at": now,
        },
        expect={"status": CalendarStatus.SCHEDULED, "attempt": attempt, "version": claimed},
    )


def _lost(item: CalendarItem, report: SchedulingReport | None) -> bool:
    """A claim another writer won: counted as `already` in the report, if there is one."""
    if report is not None:
        report.already.append(item.pk)
    return False


def _still_claimed(table: RaceCalendar, pk: str, name: str, claimed: int | None) -> bool:
    """Whether the item is still the one our claim wrote (its version), or at least still SCHEDULED for
    `name`. A writer that changes it after this read deletes the schedule it names itself (sync)."""
    current = table.get(pk)
    if current is None:
        return False
    if claimed is not None and current.version == claimed:
        return True
    return current.status is CalendarStatus.SCHEDULED and current.schedule_name == name
