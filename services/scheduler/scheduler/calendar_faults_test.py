"""Issue 14 §5: one bad calendar item never stops scheduling (moto in-process, the real 2025 schedule).

Corrupt items (attempt 50, attempt 100), a time-zone-naive start, conflicting duplicate rows, a sync racing
a scheduling run at each of its writes, and a scheduler clock hours fast: each is reported with its reason
or decided safely, and the other sessions are scheduled as usual.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

import scheduler.planning
import scheduler.sync
from f1common.datasets import ScheduleRow
from f1common.events import MAX_ATTEMPT, CalendarStatus
from f1common.race_calendar import RaceCalendar
from scheduler.actions import Clients
from scheduler.conftest import utc
from scheduler.planning import MAX_BACKOFF, SchedulingPolicy, SchedulingReport, backoff, plan_retry, run_scheduling
from scheduler.schedules import ScheduleTarget, list_schedule_names, parse_at_expression
from scheduler.sync import SyncReport, sync_season

NOW = utc(2025, 1, 1)
RACE_END = utc(2025, 3, 16, 6, 0)  # 2025 Australian GP


@pytest.fixture
def round_1(season_rows: dict[int, list[ScheduleRow]]) -> list[ScheduleRow]:
    return [r for r in season_rows[2025] if r.round == 1]


def schedules(clients: Clients, target: ScheduleTarget) -> dict[str, dt.datetime]:
    found = {}
    for name in list_schedule_names(clients.scheduler, target.group):
        raw = clients.scheduler.get_schedule(Name=name, GroupName=target.group)
        found[name] = parse_at_expression(raw["ScheduleExpression"])
    return found


@pytest.mark.parametrize("attempt", [1, 2, 30, 50, 64, 100, 10**6])
def test_backoff_is_bounded_at_any_attempt(attempt: int) -> None:
    wait = backoff(attempt, dt.timedelta(minutes=15))
    assert dt.timedelta(minutes=15) <= wait <= MAX_BACKOFF


def test_corrupt_items_are_reported_or_failed_and_the_rest_is_scheduled(
    round_1: list[ScheduleRow],
    table: RaceCalendar,
    clients: Clients,
    target: ScheduleTarget,
    policy: SchedulingPolicy,
) -> None:
    sync_season(2025, round_1, table, clients.scheduler, target.group, NOW)
    # FP1: NOT_AVAILABLE at attempt 50 (the backoff overflowed); FP2: at attempt 100 (the next request is
    # invalid); FP3: PENDING at attempt 100 (its first request would be attempt 101, refused)
    table.update("2025-01-FP1", {"status": CalendarStatus.NOT_AVAILABLE, "attempt": 50})
    table.update("2025-01-FP2", {"status": CalendarStatus.NOT_AVAILABLE, "attempt": MAX_ATTEMPT})
    table.update("2025-01-FP3", {"attempt": MAX_ATTEMPT})

    report = run_scheduling(RACE_END, table, clients.scheduler, target, policy)

    assert sorted(report.failed) == ["2025-01-FP1", "2025-01-FP2"]
    assert [r.split(":")[0] for r in report.invalid] == ["2025-01-FP3"]
    assert "ValidationError" in report.invalid[0] and "attempt" in report.invalid[0]
    assert sorted(report.scheduled) == ["ingest-2025-01-Q-a1", "ingest-2025-01-R-a1"]
    failed = table.get("2025-01-FP2")
    assert failed is not None and failed.status is CalendarStatus.FAILED and "attempt 100" in (failed.message or "")


def test_a_naive_start_is_refused_per_row_and_the_season_syncs(
    round_1: list[ScheduleRow], table: RaceCalendar, clients: Clients, target: ScheduleTarget
) -> None:
    naive = [
        r.model_copy(update={"session_start_utc": r.session_start_utc.replace(tzinfo=None)})  # type: ignore[union-attr]
        if r.session == "FP2"
        else r
        for r in round_1
    ]
    report = sync_season(2025, naive, table, clients.scheduler, target.group, NOW)
    assert len(report.skipped) == 1 and report.skipped[0].startswith("2025-01-FP2: scheduled start 2025-03-14T")
    assert "has no time zone" in report.skipped[0]
    assert sorted(report.created) == ["2025-01-FP1", "2025-01-FP3", "2025-01-Q", "2025-01-R"]
    assert table.get("2025-01-FP2") is None


def test_conflicting_duplicate_rows_are_reported_and_the_item_left_alone(
    round_1: list[ScheduleRow], table: RaceCalendar, clients: Clients, target: ScheduleTarget
) -> None:
    sync_season(2025, round_1, table, clients.scheduler, target.group, NOW)
    race = next(r for r in round_1 if r.session == "R")
    moved = race.model_copy(update={"session_start_utc": race.session_start_utc + dt.timedelta(hours=3)})  # type: ignore[operator]
    report = sync_season(2025, [*round_1, race, moved], table, clients.scheduler, target.group, NOW)
    assert report.conflicts == ["2025-01-R: 3 schedule rows disagree (session_start_utc); item left unchanged"]
    assert report.cancelled == [] and report.updated == []
    item = table.get("2025-01-R")
    assert item is not None and item.start_utc == race.session_start_utc
    # identical duplicates are no conflict
    assert sync_season(2025, [*round_1, race], table, clients.scheduler, target.group, NOW).conflicts == []


def _moved(rows: list[ScheduleRow], hours: int) -> list[ScheduleRow]:
    return [
        r.model_copy(update={"session_start_utc": r.session_start_utc + dt.timedelta(hours=hours)})  # type: ignore[operator]
        if r.session == "R"
        else r
        for r in rows
    ]


@dataclass(frozen=True)
class RaceLeft:
    """Round 1 of 2025 synced and every session but the race ingested, with what a scheduling run and a sync take."""

    rows: list[ScheduleRow]
    table: RaceCalendar
    clients: Clients
    target: ScheduleTarget
    policy: SchedulingPolicy

    @property
    def due(self) -> dt.datetime:
        """When the race is to be ingested (as synced)."""
        return RACE_END + self.policy.delay

    def schedule(self, now: dt.datetime) -> SchedulingReport:
        return run_scheduling(now, self.table, self.clients.scheduler, self.target, self.policy)

    def sync(self, rows: list[ScheduleRow]) -> SyncReport:
        return sync_season(2025, rows, self.table, self.clients.scheduler, self.target.group, NOW)

    def schedules(self) -> dict[str, dt.datetime]:
        return schedules(self.clients, self.target)

    def orphan_schedules(self) -> set[str]:
        """Schedules that no SCHEDULED item names: nothing would ever withdraw them before they fire."""
        named = {i.schedule_name for i in self.table.scan().items if i.status is CalendarStatus.SCHEDULED}
        return set(self.schedules()) - named

    def assert_scheduled_once_later(self, due: dt.datetime) -> None:
        """A scheduling run an hour before `due` schedules the (moved) race once, at `due`."""
        assert len(self.schedule(due - dt.timedelta(hours=1)).scheduled) == 1
        assert list(self.schedules().values()) == [due]


@pytest.fixture
def race_left(
    round_1: list[ScheduleRow], table: RaceCalendar, clients: Clients, target: ScheduleTarget, policy: SchedulingPolicy
) -> RaceLeft:
    sync_season(2025, round_1, table, clients.scheduler, target.group, NOW)
    for other in ("2025-01-FP1", "2025-01-FP2", "2025-01-FP3", "2025-01-Q"):
        table.update(other, {"status": CalendarStatus.INGESTED})
    return RaceLeft(round_1, table, clients, target, policy)


@pytest.mark.parametrize("change", ["moved", "cancelled"])
@pytest.mark.parametrize("killed_at", ["the schedule's deletion", "the item's write"])
def test_a_sync_killed_at_either_write_leaves_no_schedule_that_no_item_names(
    race_left: RaceLeft, monkeypatch: pytest.MonkeyPatch, change: str, killed_at: str
) -> None:
    old_due = race_left.due
    assert race_left.schedule(old_due - dt.timedelta(minutes=30)).scheduled
    round_1 = race_left.rows
    rows = _moved(round_1, hours=5) if change == "moved" else [r for r in round_1 if r.session != "R"]

    def killed(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("killed")

    with monkeypatch.context() as patch:
        if killed_at == "the schedule's deletion":
            patch.setattr(scheduler.sync, "delete_schedule", killed)
        else:
            patch.setattr(RaceCalendar, "update", killed)
        failed = race_left.sync(rows)

    assert [reason.split(":")[0] for reason in failed.skipped] == ["2025-01-R"]  # reported; the rest synced
    assert race_left.orphan_schedules() == set()
    # the next sync finishes the change: nothing is left for the old time
    again = race_left.sync(rows)
    assert (again.updated if change == "moved" else again.cancelled) == ["2025-01-R"]
    assert race_left.schedules() == {}
    item = race_left.table.get("2025-01-R")
    assert item is not None
    if change == "cancelled":
        assert item.status is CalendarStatus.CANCELLED
        return
    assert item.status is CalendarStatus.PENDING and item.end_utc == RACE_END + dt.timedelta(hours=5)
    race_left.assert_scheduled_once_later(old_due + dt.timedelta(hours=5))


@pytest.mark.parametrize("race_at", ["after_the_read", "after_the_claim"])
def test_a_sync_moving_a_session_during_a_scheduling_run_leaves_no_schedule_for_the_old_time(
    race_left: RaceLeft, monkeypatch: pytest.MonkeyPatch, race_at: str
) -> None:
    old_due = race_left.due
    moved = _moved(race_left.rows, hours=5)  # the race is postponed by 5 h while the scheduling run decides

    def sync_now() -> None:
        report = race_left.sync(moved)
        assert report.updated == ["2025-01-R"]

    with monkeypatch.context() as patch:
        if race_at == "after_the_read":  # the sync writes between the run's scan and its claim
            real_scan = RaceCalendar.scan
            raced: list[bool] = []

            def scan(self: RaceCalendar, *args: Any, **kwargs: Any) -> Any:
                found = real_scan(self, *args, **kwargs)
                if not raced:  # once: the sync's own scan goes through
                    raced.append(True)
                    sync_now()
                return found

            patch.setattr(RaceCalendar, "scan", scan)
        else:  # the sync writes between the run's claim and its schedule's creation
            real_create: Callable[..., bool] = scheduler.planning.create_ingestion_schedule

            def create(*args: Any) -> bool:
                sync_now()
                return real_create(*args)

            patch.setattr(scheduler.planning, "create_ingestion_schedule", create)

        report = race_left.schedule(old_due - dt.timedelta(minutes=30))

    assert report.scheduled == [] and report.already == ["2025-01-R"]
    assert race_left.schedules() == {}  # nothing left for the old time
    item = race_left.table.get("2025-01-R")
    assert item is not None and item.status is CalendarStatus.PENDING
    assert item.end_utc == RACE_END + dt.timedelta(hours=5)
    # the next runs schedule the race once, at its new time
    assert race_left.schedule(old_due).scheduled == []
    race_left.assert_scheduled_once_later(old_due + dt.timedelta(hours=5))


def test_a_scheduler_clock_hours_fast_does_not_fail_a_session_without_a_retry(
    round_1: list[ScheduleRow],
    table: RaceCalendar,
    clients: Clients,
    target: ScheduleTarget,
    policy: SchedulingPolicy,
) -> None:
    race = [r for r in round_1 if r.session == "R"]
    sync_season(2025, race, table, clients.scheduler, target.group, NOW)
    run_scheduling(RACE_END, table, clients.scheduler, target, policy)  # the race: attempt 1 at end + 1 h
    table.update("2025-01-R", {"status": CalendarStatus.NOT_AVAILABLE})  # the attempt found no data yet
    fast = RACE_END + policy.delay + dt.timedelta(hours=7)  # the next scheduling run's clock is 7 h fast

    report = run_scheduling(fast, table, clients.scheduler, target, policy)

    assert report.failed == [] and report.retries == ["ingest-2025-01-R-a2"]
    item = table.get("2025-01-R")
    assert item is not None and (item.status, item.attempt) == (CalendarStatus.SCHEDULED, 2)
    # with the retry done, the limit applies: a second NOT_AVAILABLE that late is FAILED
    decision = plan_retry(item.model_copy(update={"status": CalendarStatus.NOT_AVAILABLE}), fast, policy)
    assert decision.action == "fail"


@pytest.mark.parametrize(
    "lost", ["the create", "its answer", "its answer and the check", "its answer, the check, the delete"]
)
def test_a_failed_schedule_create_leaves_no_schedule_that_the_item_does_not_name(
    race_left: RaceLeft, monkeypatch: pytest.MonkeyPatch, lost: str
) -> None:
    """The create fails before EventBridge Scheduler has the schedule, or after (a timeout: the answer is lost);
    then perhaps the check whether it exists fails too, and the delete that would make sure it does not: at no
    moment is a schedule left that the item does not name, and by the next run the item names the one there is."""
    due = race_left.due
    real_create: Callable[..., bool] = scheduler.planning.create_ingestion_schedule

    def create(*args: Any) -> bool:
        if lost != "the create":
            real_create(*args)
        raise TimeoutError("read timeout")

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("unreachable")

    with monkeypatch.context() as patch:
        patch.setattr(scheduler.planning, "create_ingestion_schedule", create)
        if lost.startswith("its answer and") or lost.startswith("its answer,"):
            patch.setattr(race_left.clients.scheduler, "get_schedule", unreachable)
        if lost.endswith("the delete"):
            patch.setattr(race_left.clients.scheduler, "delete_schedule", unreachable)
        report = race_left.schedule(due - dt.timedelta(minutes=30))

    assert race_left.orphan_schedules() == set()
    item = race_left.table.get("2025-01-R")
    assert item is not None
    if lost == "its answer":  # the schedule is there: the claim stands
        assert report.scheduled == ["ingest-2025-01-R-a1"] and report.invalid == []
    else:  # reported
        assert report.scheduled == [] and report.invalid == ["2025-01-R: TimeoutError: read timeout"]
    if lost in ("its answer", "its answer, the check, the delete"):  # the claim names what is (or may be) there
        assert (item.status, item.schedule_name) == (CalendarStatus.SCHEDULED, "ingest-2025-01-R-a1")
        assert race_left.schedules() == {"ingest-2025-01-R-a1": due}
    else:  # no schedule: the claim undone
        assert (item.status, item.attempt, item.schedule_name) == (CalendarStatus.PENDING, 0, None)
        assert race_left.schedules() == {}
    # the next run leaves one schedule, for the due time, named by the SCHEDULED item
    assert race_left.schedule(due - dt.timedelta(minutes=20)).invalid == []
    assert race_left.schedules() == {"ingest-2025-01-R-a1": due}
    assert race_left.orphan_schedules() == set()
    item = race_left.table.get("2025-01-R")
    assert item is not None and (item.status, item.attempt) == (CalendarStatus.SCHEDULED, 1)
