import datetime as dt
import json
import threading

import pytest

from f1common.datasets import ScheduleRow
from f1common.events import CalendarStatus, IngestionRequest
from f1common.race_calendar import RaceCalendar
from f1common.sessions import SessionType
from f1common.settings import Settings
from scheduler.actions import Clients
from scheduler.conftest import make_clients, utc
from scheduler.planning import SchedulingPolicy, SchedulingReport, backoff, claim, plan_retry, run_scheduling
from scheduler.schedules import ScheduleTarget, create_ingestion_schedule, list_schedule_names, parse_at_expression
from scheduler.sync import sync_season

RACE_END = utc(2025, 3, 16, 6, 0)  # 2025 Australian GP: start 04:00 UTC + 2 h


@pytest.fixture
def round_1(
    season_rows: dict[int, list[ScheduleRow]], table: RaceCalendar, clients: Clients, target: ScheduleTarget
) -> None:
    rows = [r for r in season_rows[2025] if r.round <= 2]
    sync_season(2025, rows, table, clients.scheduler, target.group, utc(2025, 1, 1))


def test_due_sessions_get_one_time_schedules_with_the_full_target(
    round_1: None,
    settings: Settings,
    table: RaceCalendar,
    clients: Clients,
    target: ScheduleTarget,
    policy: SchedulingPolicy,
) -> None:
    # Saturday 08:00: qualifying data is due at 07:00, FP1-3 earlier; the race is not due within 2 h
    report = run_scheduling(utc(2025, 3, 15, 8, 0), table, clients.scheduler, target, policy)
    assert sorted(report.scheduled) == [
        "ingest-2025-01-FP1-a1",
        "ingest-2025-01-FP2-a1",
        "ingest-2025-01-FP3-a1",
        "ingest-2025-01-Q-a1",
    ]
    assert report.next_due == utc(2025, 3, 16, 5, 0)  # race data due at 07:00 minus the 2 h lookahead
    raw = clients.scheduler.get_schedule(Name="ingest-2025-01-Q-a1", GroupName=settings.group)
    assert raw["ScheduleExpression"] == "at(2025-03-15T08:01:00)"  # overdue: one minute from now
    assert raw["ScheduleExpressionTimezone"] == "UTC"
    assert raw["ActionAfterCompletion"] == "DELETE"
    assert raw["FlexibleTimeWindow"] == {"Mode": "OFF"}
    t = raw["Target"]
    assert t["Arn"] == f"arn:aws:lambda:{settings.aws_region}:000000000000:function:gpi-test-ingestion"
    assert t["RoleArn"].startswith("arn:aws:iam::000000000000:role/")
    assert t["RetryPolicy"]["MaximumRetryAttempts"] == 2
    assert t["DeadLetterConfig"]["Arn"].endswith(":gpi-test-ingestion-dlq")
    request = IngestionRequest.parse(json.loads(t["Input"]))
    assert (request.session_id.key, request.attempt, request.reason) == ("2025-01-Q", 1, "scheduled")
    item = table.get("2025-01-Q")
    assert item is not None and item.status is CalendarStatus.SCHEDULED
    assert (item.attempt, item.schedule_name, item.next_attempt_utc) == (
        1,
        "ingest-2025-01-Q-a1",
        utc(2025, 3, 15, 8, 1),
    )

    # Sunday 05:30: the race is due at 07:00 (end + 60 min); nothing is scheduled twice
    sunday = run_scheduling(utc(2025, 3, 16, 5, 30), table, clients.scheduler, target, policy)
    assert sunday.scheduled == ["ingest-2025-01-R-a1"]
    race = clients.scheduler.get_schedule(Name="ingest-2025-01-R-a1", GroupName=settings.group)
    assert parse_at_expression(race["ScheduleExpression"]) == RACE_END + dt.timedelta(minutes=60)
    assert run_scheduling(utc(2025, 3, 16, 6, 30), table, clients.scheduler, target, policy).scheduled == []
    # nothing heard of FP1 for hours: it is reported overdue
    assert "2025-01-FP1" in run_scheduling(utc(2025, 3, 16, 11), table, clients.scheduler, target, policy).overdue


def test_sessions_older_than_the_catch_up_window_are_left_to_backfill(
    round_1: None, table: RaceCalendar, clients: Clients, target: ScheduleTarget, policy: SchedulingPolicy
) -> None:
    report = run_scheduling(utc(2025, 4, 1), table, clients.scheduler, target, policy)
    assert report.scheduled == [] and len(report.stale) == 10
    assert list_schedule_names(clients.scheduler, target.group) == []


def test_two_concurrent_invocations_create_one_schedule_per_session(
    round_1: None, settings: Settings, clients: Clients, target: ScheduleTarget, policy: SchedulingPolicy
) -> None:
    now = utc(2025, 3, 23, 12, 0)  # the 5 sessions of round 2 are due (round 1 is left to backfill)
    barrier = threading.Barrier(2)
    writes = threading.Lock()  # DynamoDB's conditional writes are atomic; moto's are not across threads
    reports: list[SchedulingReport] = []
    errors: list[BaseException] = []

    def invoke() -> None:
        own = make_clients(writes)  # each "Lambda" has its own clients
        try:
            barrier.wait()
            reports.append(
                run_scheduling(now, RaceCalendar(own.dynamodb, settings.table), own.scheduler, target, policy)
            )
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=invoke) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(reports) == 2
    # the claims decide: one invocation wins each session's conditional write and creates its schedule
    expected = {f"ingest-2025-02-{code}-a1" for code in ("FP1", "SQ", "S", "Q", "R")}
    assert set(list_schedule_names(clients.scheduler, target.group)) == expected
    created = [name for r in reports for name in r.scheduled]
    assert sorted(created) == sorted(expected)  # each created by exactly one invocation
    for r in reports:  # and each invocation handled every session once: created it, or found it claimed
        handled = [n.removeprefix("ingest-").removesuffix("-a1") for n in r.scheduled] + r.already
        assert sorted(handled) == sorted(n.removeprefix("ingest-").removesuffix("-a1") for n in expected)
    items = RaceCalendar(clients.dynamodb, settings.table).scan(season=2025).by_key()
    assert {items[f"2025-02-{c}"].schedule_name for c in ("FP1", "SQ", "S", "Q", "R")} == expected


def test_the_schedule_name_is_the_second_guard(clients: Clients, target: ScheduleTarget) -> None:
    """Were two invocations to pass one claim, the attempt's deterministic name lets only one schedule exist."""
    request = IngestionRequest(season=2025, round=2, session=SessionType.RACE, attempt=1)
    when = utc(2025, 3, 23, 9, 0)
    assert create_ingestion_schedule(clients.scheduler, target, request, when) is True
    assert create_ingestion_schedule(clients.scheduler, target, request, when) is False
    assert list_schedule_names(clients.scheduler, target.group) == ["ingest-2025-02-R-a1"]


def test_a_stale_invocation_loses_the_claim_and_creates_nothing(
    round_1: None, table: RaceCalendar, clients: Clients, target: ScheduleTarget
) -> None:
    stale = table.get("2025-01-R")
    assert stale is not None and stale.status is CalendarStatus.PENDING
    now = utc(2025, 3, 16, 6, 0)
    request = IngestionRequest.for_session(stale.session_id, attempt=1)
    first: list[str] = []
    second: list[str] = []
    assert claim(stale, request, now, now, table, clients.scheduler, target, first)
    # the other invocation read the item before the claim; its conditional write fails
    assert not claim(stale, request, now, now, table, clients.scheduler, target, second)
    assert first == ["ingest-2025-01-R-a1"] and second == []
    assert list_schedule_names(clients.scheduler, target.group) == ["ingest-2025-01-R-a1"]


def test_backoff_doubles_from_the_base() -> None:
    base = dt.timedelta(minutes=15)
    assert [backoff(n, base) for n in (1, 2, 3, 4)] == [dt.timedelta(minutes=m) for m in (15, 30, 60, 120)]
    with pytest.raises(ValueError, match="attempt must be >= 1"):
        backoff(0, base)


def test_not_available_is_retried_with_backoff_then_failed(
    round_1: None, table: RaceCalendar, clients: Clients, target: ScheduleTarget, policy: SchedulingPolicy
) -> None:
    assert (policy.retry_base, policy.retry_limit) == (dt.timedelta(minutes=15), dt.timedelta(hours=6))
    now = utc(2025, 3, 16, 6, 0)
    run_scheduling(now, table, clients.scheduler, target, policy)
    for other in ("2025-01-FP1", "2025-01-FP2", "2025-01-FP3", "2025-01-Q"):  # landed; only the race is late
        table.update(other, {"status": CalendarStatus.INGESTED})
    retries: list[tuple[str, dt.datetime]] = []
    for _ in range(10):
        item = table.get("2025-01-R")
        assert item is not None and item.status is CalendarStatus.SCHEDULED
        assert item.next_attempt_utc is not None
        now = item.next_attempt_utc  # the attempt runs; the ingestion service finds no data yet
        table.update(
            "2025-01-R", {"status": CalendarStatus.NOT_AVAILABLE, "updated_at": now}, expect={"attempt": item.attempt}
        )
        report = run_scheduling(now, table, clients.scheduler, target, policy)
        if report.failed:
            break
        retries.extend((name, now) for name in report.retries)
    # attempts at 07:00, then +15, +30, +60, +120 min; the next (+240 min) would end 8.75 h after the race
    assert [name for name, _ in retries] == [f"ingest-2025-01-R-a{n}" for n in (2, 3, 4, 5)]
    item = table.get("2025-01-R")
    assert item is not None and item.status is CalendarStatus.FAILED and item.attempt == 5
    assert item.message is not None and "not available" in item.message
    assert report.failed == ["2025-01-R"]
    schedule = clients.scheduler.get_schedule(Name="ingest-2025-01-R-a5", GroupName=target.group)
    assert parse_at_expression(schedule["ScheduleExpression"]) == utc(2025, 3, 16, 10, 45)
    request = IngestionRequest.parse(json.loads(schedule["Target"]["Input"]))
    assert (request.attempt, request.reason) == (5, "retry")
    # a FAILED session is left for the alarm: later runs do not touch it
    assert run_scheduling(now + dt.timedelta(hours=1), table, clients.scheduler, target, policy).retries == []


def test_plan_retry_limits_the_total_wait_since_the_expected_end(round_1: None, table: RaceCalendar) -> None:
    item = table.get("2025-01-R")
    assert item is not None
    policy = SchedulingPolicy(
        delay=dt.timedelta(minutes=60), retry_base=dt.timedelta(minutes=15), retry_limit=dt.timedelta(hours=6)
    )
    first = plan_retry(item.model_copy(update={"attempt": 1}), RACE_END + dt.timedelta(hours=1), policy)
    assert (first.action, first.attempt, first.when) == ("retry", 2, RACE_END + dt.timedelta(minutes=75))
    late = plan_retry(item.model_copy(update={"attempt": 4}), RACE_END + dt.timedelta(hours=5), policy)
    assert (late.action, late.attempt, late.waited) == ("fail", 4, dt.timedelta(hours=5))  # +2 h would pass 6 h
    edge = plan_retry(item.model_copy(update={"attempt": 2}), RACE_END + dt.timedelta(hours=5, minutes=30), policy)
    assert (edge.action, edge.when) == ("retry", RACE_END + dt.timedelta(hours=6))
