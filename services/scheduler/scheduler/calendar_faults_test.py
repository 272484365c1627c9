"""Issue 14 §5: one bad calendar item never stops scheduling (moto in-process, the real 2025 schedule).

Corrupt items (attempt 50, attempt 100), a time-zone-naive start, conflicting duplicate rows, a sync racing
a scheduling run at each of its writes, and a scheduler clock hours fast: each is reported with its reason
or decided safely, and the other sessions are scheduled as usual.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

import scheduler.planning
import scheduler.sync
from f1common.datasets import ScheduleRow
from f1common.events import MAX_ATTEMPT, CalendarStatus
from f1common.race_calendar import RaceCalendar
from scheduler.actions import Clients
from scheduler.conftest import utc
from scheduler.planning import MAX_BACKOFF, SchedulingPolicy, backoff, plan_retry, run_scheduling
from scheduler.schedules import ScheduleTarget, list_schedule_names, parse_at_expression
from scheduler.sync import sync_season

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


def only_the_race_left(
    round_1: list[ScheduleRow], table: RaceCalendar, clients: Clients, target: ScheduleTarget
) -> None:
    """Round 1 synced and every session but the race ingested."""
    sync_season(2025, round_1, table, clients.scheduler, target.group, NOW)
    for other in ("2025-01-FP1", "2025-01-FP2", "2025-01-FP3", "2025-01-Q"):
        table.update(other, {"status": CalendarStatus.INGESTED})


def assert_scheduled_once_later(
    table: RaceCalendar, clients: Clients, target: ScheduleTarget, policy: SchedulingPolicy, due: dt.datetime
) -> None:
    """A scheduling run an hour before `due` schedules the (moved) race once, at `due`."""
    later = run_scheduling(due - dt.timedelta(hours=1), table, clients.scheduler, target, policy)
    assert len(later.scheduled) == 1
    assert list(schedules(clients, target).values()) == [due]


def orphan_schedules(clients: Clients, target: ScheduleTarget, table: RaceCalendar) -> set[str]:
    """Schedules that no SCHEDULED item names: nothing would ever withdraw them before they fire."""
    named = {i.schedule_name for i in table.scan().items if i.status is CalendarStatus.SCHEDULED}
    return set(schedules(clients, target)) - named


@pytest.mark.parametrize("change", ["moved", "cancelled"])
@pytest.mark.parametrize("killed_at", ["the schedule's deletion", "the item's write"])
def test_a_sync_killed_at_either_write_leaves_no_schedule_that_no_item_names(
    round_1: list[ScheduleRow],
    table: RaceCalendar,
    clients: Clients,
    target: ScheduleTarget,
    policy: SchedulingPolicy,
    monkeypatch: pytest.MonkeyPatch,
    change: str,
    killed_at: str,
) -> None:
    only_the_race_left(round_1, table, clients, target)
    old_due = RACE_END + policy.delay
    assert run_scheduling(old_due - dt.timedelta(minutes=30), table, clients.scheduler, target, policy).scheduled
    rows = _moved(round_1, hours=5) if change == "moved" else [r for r in round_1 if r.session != "R"]

    def killed(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("killed")

    if killed_at == "the schedule's deletion":
        monkeypatch.setattr(scheduler.sync, "delete_schedule", killed)
    else:
        monkeypatch.setattr(RaceCalendar, "update", killed)
    failed = sync_season(2025, rows, table, clients.scheduler, target.group, NOW)
    monkeypatch.undo()

    assert [reason.split(":")[0] for reason in failed.skipped] == ["2025-01-R"]  # reported; the rest synced
    assert orphan_schedules(clients, target, table) == set()
    # the next sync finishes the change: nothing is left for the old time
    again = sync_season(2025, rows, table, clients.scheduler, target.group, NOW)
    assert (again.updated if change == "moved" else again.cancelled) == ["2025-01-R"]
    assert schedules(clients, target) == {}
    item = table.get("2025-01-R")
    assert item is not None
    if change == "cancelled":
        assert item.status is CalendarStatus.CANCELLED
        return
    assert item.status is CalendarStatus.PENDING and item.end_utc == RACE_END + dt.timedelta(hours=5)
    assert_scheduled_once_later(table, clients, target, policy, old_due + dt.timedelta(hours=5))


@pytest.mark.parametrize("race_at", ["after_the_read", "after_the_claim"])
def test_a_sync_moving_a_session_during_a_scheduling_run_leaves_no_schedule_for_the_old_time(
    round_1: list[ScheduleRow],
    table: RaceCalendar,
    clients: Clients,
    target: ScheduleTarget,
    policy: SchedulingPolicy,
    monkeypatch: pytest.MonkeyPatch,
    race_at: str,
) -> None:
    only_the_race_left(round_1, table, clients, target)
    old_due = RACE_END + policy.delay
    moved = _moved(round_1, hours=5)  # the race is postponed by 5 h while the scheduling run decides

    def sync_now() -> None:
        report = sync_season(2025, moved, table, clients.scheduler, target.group, NOW)
        assert report.updated == ["2025-01-R"]

    if race_at == "after_the_read":  # the sync writes between the run's scan and its claim
        real_scan = RaceCalendar.scan
        raced: list[bool] = []

        def scan(self: RaceCalendar, *args: Any, **kwargs: Any) -> Any:
            found = real_scan(self, *args, **kwargs)
            if not raced:  # once: the sync's own scan goes through
                raced.append(True)
                sync_now()
            return found

        monkeypatch.setattr(RaceCalendar, "scan", scan)
    else:  # the sync writes between the run's claim and its schedule's creation
        real_create: Callable[..., bool] = scheduler.planning.create_ingestion_schedule

        def create(*args: Any) -> bool:
            sync_now()
            return real_create(*args)

        monkeypatch.setattr(scheduler.planning, "create_ingestion_schedule", create)

    report = run_scheduling(old_due - dt.timedelta(minutes=30), table, clients.scheduler, target, policy)
    monkeypatch.undo()

    assert report.scheduled == [] and report.already == ["2025-01-R"]
    assert schedules(clients, target) == {}  # nothing left for the old time
    item = table.get("2025-01-R")
    assert item is not None and item.status is CalendarStatus.PENDING
    assert item.end_utc == RACE_END + dt.timedelta(hours=5)
    # the next runs schedule the race once, at its new time
    assert run_scheduling(old_due, table, clients.scheduler, target, policy).scheduled == []
    assert_scheduled_once_later(table, clients, target, policy, old_due + dt.timedelta(hours=5))


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


@pytest.mark.parametrize("lost", ["the create", "its answer", "its answer and the check"])
def test_a_failed_schedule_create_leaves_one_schedule_that_the_item_names(
    round_1: list[ScheduleRow],
    table: RaceCalendar,
    clients: Clients,
    target: ScheduleTarget,
    policy: SchedulingPolicy,
    monkeypatch: pytest.MonkeyPatch,
    lost: str,
) -> None:
    """The create fails before EventBridge Scheduler has the schedule, or after (a timeout: the answer is lost),
    and then perhaps the check whether it exists fails too: the claim is undone only when no schedule may be
    left, and by the next run the item names the one schedule there is."""
    only_the_race_left(round_1, table, clients, target)
    due = RACE_END + policy.delay
    real_create: Callable[..., bool] = scheduler.planning.create_ingestion_schedule

    def create(*args: Any) -> bool:
        if lost != "the create":
            real_create(*args)
        raise TimeoutError("read timeout")

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("unreachable")

    monkeypatch.setattr(scheduler.planning, "create_ingestion_schedule", create)
    if lost == "its answer and the check":
        monkeypatch.setattr(clients.scheduler, "get_schedule", unreachable)
    report = run_scheduling(due - dt.timedelta(minutes=30), table, clients.scheduler, target, policy)
    monkeypatch.undo()

    item = table.get("2025-01-R")
    assert item is not None
    if lost == "its answer":  # the schedule is there: the claim stands
        assert report.scheduled == ["ingest-2025-01-R-a1"] and report.invalid == []
        assert (item.status, item.schedule_name) == (CalendarStatus.SCHEDULED, "ingest-2025-01-R-a1")
    else:  # reported; the claim undone
        assert report.scheduled == [] and report.invalid == ["2025-01-R: TimeoutError: read timeout"]
        assert (item.status, item.attempt, item.schedule_name) == (CalendarStatus.PENDING, 0, None)
    # the next run leaves one schedule, for the due time, named by the SCHEDULED item
    again = run_scheduling(due - dt.timedelta(minutes=20), table, clients.scheduler, target, policy)
    assert again.invalid == []
    assert schedules(clients, target) == {"ingest-2025-01-R-a1": due}
    assert orphan_schedules(clients, target, table) == set()
    item = table.get("2025-01-R")
    assert item is not None and (item.status, item.attempt) == (CalendarStatus.SCHEDULED, 1)
