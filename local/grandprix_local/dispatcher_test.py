import datetime as dt
import json
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

import pytest

from f1common.clock import SimulatedClock
from f1common.datasets import ScheduleRow
from f1common.events import CalendarStatus, IngestionRequest
from f1common.race_calendar import RaceCalendar
from f1common.schedule import expected_end
from f1common.settings import Settings, ingestion_target_arn
from grandprix_local.conftest import utc
from grandprix_local.dispatcher import Dispatcher, Firing, LambdaHandler, scheduler_tick
from scheduler.actions import Clients, run_event
from scheduler.schedules import (
    ScheduleTarget,
    create_ingestion_schedule,
    list_schedule_names,
)

DELAY = dt.timedelta(minutes=60)


class RecordingHandler:
    """Stands in for the ingestion Lambda: records each delivery and the simulated time it ran at, and the
    outcome INGESTED in the calendar (as the ingestion does) when given the table."""

    def __init__(self, clock: SimulatedClock, table: RaceCalendar | None = None) -> None:
        self.clock = clock
        self.table = table
        self.calls: list[tuple[dt.datetime, dict[str, Any], Any]] = []
        self.landings: list[tuple[dt.datetime, int]] = []  # schedule landings a calendar sync asked for

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        if event.get("kind") == "schedule":
            self.landings.append((self.clock(), event["season"]))
            return {"kind": "schedule", "skipped": False}
        self.calls.append((self.clock(), event, context))
        key = IngestionRequest.parse(event).session_id.key
        if self.table is not None:
            self.table.update(key, {"status": CalendarStatus.INGESTED})
        return {"status": "ingested", "session": key}


def local_dispatcher(
    settings: Settings, clients: Clients, handlers: Mapping[str, LambdaHandler], **options: Any
) -> Dispatcher:
    """A Dispatcher over the test stack's schedules, dead-letter queue and schedule group."""
    return Dispatcher(clients.scheduler, clients.sqs, settings.group, handlers, **options)


def two_worker_processes(
    settings: Settings, clients: Clients, handlers: Mapping[str, LambdaHandler], when: dt.datetime, **options: Any
) -> Dispatcher:
    """A local_dispatcher on two worker processes, its simulated clock at `when`."""
    return local_dispatcher(
        settings, clients, handlers, clock=SimulatedClock(when), concurrency=2, worker_kind="processes", **options
    )


def test_replay_2025_rounds_1_to_6_fires_each_session_once_in_order(
    settings: Settings, clients: Clients, season_rows: dict[int, list[ScheduleRow]]
) -> None:
    clock = SimulatedClock(utc(2025, 3, 10))
    load = season_rows.__getitem__
    run_event({"action": "sync", "season": 2025}, settings, clients, now=clock(), load=load)
    recorder = RecordingHandler(clock, RaceCalendar(clients.dynamodb, settings.table))
    progress: list[Firing] = []
    dispatcher = local_dispatcher(
        settings,
        clients,
        {ingestion_target_arn(settings): recorder},
        clock=clock,
        on_fire=progress.append,
    )
    until = utc(2025, 5, 5)  # the Monday after round 6 (Miami)
    tick = scheduler_tick(settings, clients, load=load)
    ticks: list[dt.datetime] = []

    def counting_tick(now: dt.datetime) -> dt.datetime | None:
        ticks.append(now)
        return tick(now)

    firings = dispatcher.replay(until=until, tick=counting_tick)

    expected = sorted((r for r in season_rows[2025] if r.round <= 6), key=lambda r: r.session_start_utc)  # type: ignore[arg-type,return-value]
    assert len(expected) == 30
    delivered = [IngestionRequest.parse(event) for _, event, _ in recorder.calls]
    assert [r.session_id.key for r in delivered] == [f"2025-{r.round:02d}-{r.session}" for r in expected]
    assert all((r.attempt, r.reason) == (1, "scheduled") for r in delivered)
    # each ran at its session's expected end + the delay, on the simulated clock
    assert [when for when, _, _ in recorder.calls] == [expected_end(r) + DELAY for r in expected]  # type: ignore[operator]
    assert progress == firings and all(f.ok and f.attempts == 1 for f in firings)
    assert recorder.calls[0][2].function_name == settings.names.ingestion_function
    assert list_schedule_names(clients.scheduler, settings.group) == []  # ActionAfterCompletion=DELETE
    assert recorder.landings == [(utc(2025, 3, 10, 0, 1), 2025)]  # the sync's schedule landing, a minute later
    assert clock() == until
    # ticks stay on the hourly grid but idle hours are skipped (the replay spans 1,320 hours)
    assert all((t - utc(2025, 3, 10)) % dt.timedelta(hours=1) == dt.timedelta(0) for t in ticks)
    assert ticks == sorted(ticks) and len(ticks) < 150
    table = RaceCalendar(clients.dynamodb, settings.table)
    round_7 = [i for i in table.scan(season=2025).items if i.round == 7]
    assert {i.status for i in round_7} == {CalendarStatus.PENDING}  # not due yet


def test_replay_runs_the_retry_loop_when_ingestion_reports_not_available(
    settings: Settings, clients: Clients, season_rows: dict[int, list[ScheduleRow]]
) -> None:
    """An ingestion stand-in that finds no data twice, then lands it, recording outcomes like the real one."""
    table = RaceCalendar(clients.dynamodb, settings.table)
    clock = SimulatedClock(utc(2025, 3, 14))
    rows = [r for r in season_rows[2025] if r.round == 1 and r.session in ("Q", "R")]
    run_event({"action": "sync", "season": 2025}, settings, clients, now=clock(), load=lambda _: rows)
    calls: list[tuple[dt.datetime, str, int]] = []

    def ingestion(event: dict[str, Any], context: Any) -> dict[str, Any]:
        request = IngestionRequest.parse(event)
        calls.append((clock(), request.session_id.key, request.attempt))
        status = CalendarStatus.NOT_AVAILABLE if request.attempt <= 2 else CalendarStatus.INGESTED
        table.update(
            request.session_id.key, {"status": status, "attempt": request.attempt, "updated_at": clock()}, expect={}
        )
        return {"status": status.value}

    dispatcher = local_dispatcher(settings, clients, {ingestion_target_arn(settings): ingestion}, clock=clock)
    dispatcher.replay(until=utc(2025, 3, 17), tick=scheduler_tick(settings, clients, load=lambda _: rows))
    race = [(when, attempt) for when, key, attempt in calls if key == "2025-01-R"]
    # 07:00 first try; the 08:00 tick retries at +15 min; the 09:00 tick at +30 min; then ingested
    assert race == [(utc(2025, 3, 16, 7, 0), 1), (utc(2025, 3, 16, 8, 15), 2), (utc(2025, 3, 16, 9, 30), 3)]
    assert table.get("2025-01-R").status is CalendarStatus.INGESTED  # type: ignore[union-attr]
    assert table.get("2025-01-Q").status is CalendarStatus.INGESTED  # type: ignore[union-attr]


@pytest.fixture
def one_schedule(settings: Settings, clients: Clients, target: ScheduleTarget) -> IngestionRequest:
    request = IngestionRequest(season=2025, round=1, session="R")  # type: ignore[arg-type]
    create_ingestion_schedule(clients.scheduler, target, request, utc(2025, 3, 16, 7, 0))
    return request


def test_failing_target_is_retried_then_dead_lettered(
    settings: Settings, clients: Clients, one_schedule: IngestionRequest
) -> None:
    clock = SimulatedClock(utc(2025, 3, 16, 6, 59))
    attempts: list[dt.datetime] = []

    def broken(event: dict[str, Any], context: Any) -> None:
        attempts.append(clock())
        raise RuntimeError("live timing API returned 503")

    dispatcher = local_dispatcher(settings, clients, {ingestion_target_arn(settings): broken}, clock=clock)
    assert dispatcher.run_due() == []  # not yet
    clock.advance(dt.timedelta(minutes=1))
    [firing] = dispatcher.run_due()
    assert (firing.ok, firing.attempts, firing.error) == (False, 3, "RuntimeError: live timing API returned 503")
    assert len(attempts) == 3  # 1 + MaximumRetryAttempts
    queue_url = clients.sqs.get_queue_url(QueueName=settings.dlq)["QueueUrl"]
    messages = clients.sqs.receive_message(QueueUrl=queue_url, MessageAttributeNames=["All"])["Messages"]
    assert len(messages) == 1
    assert json.loads(messages[0]["Body"]) == one_schedule.to_payload()
    attributes = {k: v["StringValue"] for k, v in messages[0]["MessageAttributes"].items()}
    assert attributes["ERROR_MESSAGE"] == "RuntimeError: live timing API returned 503"
    assert attributes["RETRY_ATTEMPTS"] == "2"
    assert attributes["TARGET_ARN"] == ingestion_target_arn(settings)
    assert list_schedule_names(clients.scheduler, settings.group) == []


def test_a_flaky_target_succeeds_on_retry_without_dead_letter(
    settings: Settings, clients: Clients, one_schedule: IngestionRequest
) -> None:
    clock = SimulatedClock(utc(2025, 3, 16, 8, 0))
    failures = iter([True])

    def flaky(event: dict[str, Any], context: Any) -> str:
        if next(failures, False):
            raise TimeoutError("throttled")
        return "done"

    [firing] = local_dispatcher(settings, clients, {ingestion_target_arn(settings): flaky}, clock=clock).run_due()
    assert (firing.ok, firing.attempts, firing.result) == (True, 2, "done")
    queue_url = clients.sqs.get_queue_url(QueueName=settings.dlq)["QueueUrl"]
    assert "Messages" not in clients.sqs.receive_message(QueueUrl=queue_url)


def test_schedule_kept_after_completion_is_disabled_not_fired_again(
    settings: Settings, clients: Clients, target: ScheduleTarget
) -> None:
    clients.scheduler.create_schedule(
        Name="manual-2025-01-Q",
        GroupName=settings.group,
        ScheduleExpression="at(2025-03-15T07:00:00)",
        ScheduleExpressionTimezone="UTC",
        FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="NONE",
        Target={"Arn": target.function_arn, "RoleArn": target.role_arn, "Input": '{"season": 2025}'},
    )
    calls: list[dict[str, Any]] = []
    dispatcher = local_dispatcher(
        settings,
        clients,
        {target.function_arn: lambda e, c: calls.append(e)},
        clock=SimulatedClock(utc(2025, 3, 16)),
    )
    assert len(dispatcher.run_due()) == 1 and dispatcher.run_due() == []
    assert calls == [{"season": 2025}]
    raw = clients.scheduler.get_schedule(Name="manual-2025-01-Q", GroupName=settings.group)
    assert raw["State"] == "DISABLED"


@pytest.mark.parametrize("after_completion", ["DELETE", "NONE"])
def test_a_schedule_deleted_while_it_runs_completes_and_the_batch_goes_on(
    settings: Settings, clients: Clients, target: ScheduleTarget, after_completion: str
) -> None:
    """A sync that moves a session deletes its schedule, maybe while the dispatcher delivers it: the
    delivery completes without it, and the batch's other deliveries run and are recorded."""
    when = utc(2025, 3, 16, 7)
    for session in ("Q", "R"):
        clients.scheduler.create_schedule(
            Name=f"ingest-2025-01-{session}-a1",
            GroupName=settings.group,
            ScheduleExpression="at(2025-03-16T07:00:00)",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion=after_completion,
            Target={"Arn": target.function_arn, "RoleArn": target.role_arn, "Input": json.dumps({"s": session})},
        )
    delivered: list[str] = []

    def deleted_meanwhile(event: dict[str, Any], context: Any) -> str:
        delivered.append(event["s"])
        clients.scheduler.delete_schedule(Name=f"ingest-2025-01-{event['s']}-a1", GroupName=settings.group)
        return "done"

    recorded: list[Firing] = []
    dispatcher = local_dispatcher(
        settings, clients, {target.function_arn: deleted_meanwhile}, clock=SimulatedClock(when), on_fire=recorded.append
    )
    firings = dispatcher.run_due()
    assert sorted(delivered) == ["Q", "R"] and [f.ok for f in firings] == [True, True] and recorded == firings
    assert list_schedule_names(clients.scheduler, settings.group) == []
    assert dispatcher.run_due() == []


def test_unmapped_target_is_a_clear_error(settings: Settings, clients: Clients, one_schedule: IngestionRequest) -> None:
    dispatcher = local_dispatcher(settings, clients, {}, clock=SimulatedClock(utc(2025, 4, 1)))
    with pytest.raises(LookupError, match="ingest-2025-01-R-a1 targets arn:aws:lambda:.*which has no local handler"):
        dispatcher.run_due()


def test_replay_without_a_tick_fires_stored_schedules_at_their_instants(
    settings: Settings, clients: Clients, target: ScheduleTarget
) -> None:
    for session, when in (("R", utc(2025, 3, 16, 7)), ("Q", utc(2025, 3, 15, 7)), ("S", utc(2025, 3, 22, 5))):
        request = IngestionRequest(season=2025, round=1, session=session)  # type: ignore[arg-type]
        create_ingestion_schedule(clients.scheduler, target, request, when)
    clock = SimulatedClock(utc(2025, 3, 1))
    recorder = RecordingHandler(clock)
    dispatcher = local_dispatcher(settings, clients, {target.function_arn: recorder}, clock=clock)
    firings = dispatcher.replay(until=utc(2025, 3, 20))
    assert [(f.schedule, f.fired_at) for f in firings] == [
        ("ingest-2025-01-Q-a1", utc(2025, 3, 15, 7)),
        ("ingest-2025-01-R-a1", utc(2025, 3, 16, 7)),
    ]
    assert list_schedule_names(clients.scheduler, settings.group) == ["ingest-2025-01-S-a1"]  # after `until`
    assert clock() == utc(2025, 3, 20)


def book_race_weekend(clients: Clients, target: ScheduleTarget, sessions: tuple[str, ...], when: dt.datetime) -> None:
    """One ingestion schedule at `when` for each of the 2025 Australian weekend's `sessions`."""
    for session in sessions:
        request = IngestionRequest(season=2025, round=1, session=session)  # type: ignore[arg-type]
        create_ingestion_schedule(clients.scheduler, target, request, when)


def meeting_handler() -> tuple[LambdaHandler, list[str], list[int]]:
    """A handler returning the session, under which R and Q return only once both are in flight (FP3 at once);
    with the sessions in the order their deliveries started, and how many were in flight at each start."""
    together = threading.Barrier(2, timeout=30)  # only passes when two invocations run at the same time
    started: list[str] = []
    peak: list[int] = []
    running: list[int] = []
    lock = threading.Lock()

    def handler(event: dict[str, Any], context: Any) -> str:
        with lock:
            started.append(event["session"])
            running.append(1)
            peak.append(len(running))
        if event["session"] != "FP3":
            together.wait()
        with lock:
            running.pop()
        return str(event["session"])

    return handler, started, peak


def two_at_once(
    settings: Settings, clients: Clients, target: ScheduleTarget, sessions: tuple[str, ...], **options: Any
) -> tuple[Dispatcher, list[str], list[int]]:
    """A dispatcher of two deliveries at once to a :func:`meeting_handler`, with `sessions` booked and due now;
    and the handler's started sessions and in-flight counts."""
    when = utc(2025, 3, 16, 7)
    book_race_weekend(clients, target, sessions, when)
    handler, started, peak = meeting_handler()
    handlers = {target.function_arn: handler}
    dispatcher = local_dispatcher(settings, clients, handlers, clock=SimulatedClock(when), concurrency=2, **options)
    return dispatcher, started, peak


def test_due_schedules_run_concurrently_up_to_the_limit_and_report_in_order(
    settings: Settings, clients: Clients, target: ScheduleTarget
) -> None:
    order: list[str] = []
    dispatcher, _, peak = two_at_once(
        settings, clients, target, ("R", "Q", "FP3"), on_fire=lambda f: order.append(f.schedule)
    )
    assert local_dispatcher(settings, clients, {}).concurrency == (os.cpu_count() or 1)
    firings = dispatcher.run_due()

    assert all(f.ok for f in firings), [f.error for f in firings]
    names = ["ingest-2025-01-FP3-a1", "ingest-2025-01-Q-a1", "ingest-2025-01-R-a1"]
    assert [f.schedule for f in firings] == order == names
    assert max(peak) == 2  # two at once, never more than the limit


def test_a_replay_fires_the_schedules_due_before_the_next_tick_as_one_concurrent_batch(
    settings: Settings, clients: Clients, target: ScheduleTarget
) -> None:
    """Within one hour three schedules at three instants run at once (the handler only passes the barrier when
    two run together); the one after the next tick waits for that tick, which sees every outcome before it."""
    for session, minute in (("FP1", 5), ("FP2", 20), ("FP3", 40)):
        request = IngestionRequest(season=2025, round=1, session=session)  # type: ignore[arg-type]
        create_ingestion_schedule(clients.scheduler, target, request, utc(2025, 3, 14, 10, minute))
    create_ingestion_schedule(
        clients.scheduler, target, IngestionRequest(season=2025, round=1, session="Q"), utc(2025, 3, 14, 11, 30)  # type: ignore[arg-type]
    )
    together = threading.Barrier(2, timeout=30)
    done: list[str] = []
    lock = threading.Lock()

    def handler(event: dict[str, Any], context: Any) -> str:
        if event["session"] in ("FP1", "FP2"):
            together.wait()
        with lock:
            done.append(event["session"])
        return event["session"]

    seen_by_ticks: list[tuple[dt.datetime, list[str]]] = []

    def tick(now: dt.datetime) -> dt.datetime | None:
        with lock:
            seen_by_ticks.append((now, list(done)))
        return None  # no hint: every hour

    clock = SimulatedClock(utc(2025, 3, 14, 10))
    dispatcher = local_dispatcher(settings, clients, {target.function_arn: handler}, clock=clock, concurrency=2)
    firings = dispatcher.replay(until=utc(2025, 3, 14, 12), tick=tick)

    assert [(f.result, f.fired_at) for f in firings] == [
        ("FP1", utc(2025, 3, 14, 10, 5)),
        ("FP2", utc(2025, 3, 14, 10, 20)),
        ("FP3", utc(2025, 3, 14, 10, 40)),
        ("Q", utc(2025, 3, 14, 11, 30)),
    ]
    # the ticks come on the hourly grid, as when one ran at a time, and each saw all the firings before it
    assert [(when, sorted(seen)) for when, seen in seen_by_ticks] == [
        (utc(2025, 3, 14, 10), []),
        (utc(2025, 3, 14, 11), ["FP1", "FP2", "FP3"]),
        (utc(2025, 3, 14, 12), ["FP1", "FP2", "FP3", "Q"]),
    ]


def worker_pid(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A target for worker processes (importable, so picklable): the process it ran in; it dies (as a killed
    Lambda does) on its first delivery of a session named in GPI_TEST_DIE_ONCE, marking that in the file, and on
    every delivery of the one named in GPI_TEST_DIE_ALWAYS; the one named in GPI_TEST_SLOW takes 1.5 s."""
    if event["session"] == os.environ.get("GPI_TEST_DIE_ALWAYS"):
        os._exit(137)
    if event["session"] == os.environ.get("GPI_TEST_SLOW"):
        time.sleep(1.5)  # still in flight when the other worker dies
    marker = os.environ.get("GPI_TEST_DIE_ONCE_MARKER")
    if marker and event["session"] == os.environ.get("GPI_TEST_DIE_ONCE") and not os.path.exists(marker):
        with open(marker, "w") as out:
            out.write(str(os.getpid()))
        os._exit(137)
    return {"pid": os.getpid(), "session": event["session"]}


def test_worker_processes_run_a_batch_and_what_a_killed_one_held_is_delivered_again(
    settings: Settings, clients: Clients, target: ScheduleTarget, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    when = utc(2025, 3, 16, 7)
    book_race_weekend(clients, target, ("FP1", "FP2", "FP3", "Q"), when)
    marker = tmp_path / "died"
    monkeypatch.setenv("GPI_TEST_DIE_ONCE", "FP2")
    monkeypatch.setenv("GPI_TEST_DIE_ONCE_MARKER", str(marker))
    with pytest.raises(TypeError, match="cannot run in a worker process"):
        local_dispatcher(settings, clients, {"x": lambda e, c: None}, worker_kind="processes")
    dispatcher = two_worker_processes(settings, clients, {target.function_arn: worker_pid}, when)

    firings = dispatcher.run_due()

    assert [f.schedule for f in firings] == [f"ingest-2025-01-{s}-a1" for s in ("FP1", "FP2", "FP3", "Q")]
    assert all(f.ok for f in firings), [f.error for f in firings]
    pids = {f.result["pid"] for f in firings}
    assert os.getpid() not in pids and int(marker.read_text()) not in pids  # the killed worker delivered nothing
    assert {f.result["session"] for f in firings} == {"FP1", "FP2", "FP3", "Q"}  # FP2 again, on a new worker
    assert list_schedule_names(clients.scheduler, settings.group) == []


def test_a_schedule_whose_worker_always_dies_is_dead_lettered_and_the_others_land(
    settings: Settings, clients: Clients, target: ScheduleTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    when = utc(2025, 3, 16, 7)
    book_race_weekend(clients, target, ("Q", "R"), when)
    monkeypatch.setenv("GPI_TEST_DIE_ALWAYS", "Q")
    monkeypatch.setenv("GPI_TEST_SLOW", "R")  # R is on the pool each time Q's worker breaks it: never charged
    dispatcher = two_worker_processes(settings, clients, {target.function_arn: worker_pid}, when)

    q, r = dispatcher.run_due()

    assert (q.ok, q.attempts, q.error) == (False, 3, "BrokenProcessPool: a worker process died")
    assert r.ok and r.result["session"] == "R"
    queue_url = clients.sqs.get_queue_url(QueueName=settings.dlq)["QueueUrl"]
    [message] = clients.sqs.receive_message(QueueUrl=queue_url, MessageAttributeNames=["All"])["Messages"]
    assert json.loads(message["Body"])["session"] == "Q"


PRELOAD_PROBE = "colorsys"  # a module nothing here imports: in a worker's sys.modules only when preloaded


WARMED = "GPI_TEST_WORKER_WARMED"  # set in a worker by its preload's init call (`module:function`)


def mark_warmed() -> None:
    os.environ[WARMED] = str(os.getpid())


RENDEZVOUS = "GPI_TEST_WORKER_RENDEZVOUS"  # a directory where deliveries wait until two workers have one each


def worker_modules(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A target for worker processes: whether the probe module was imported before this delivery. With
    RENDEZVOUS set, the delivery waits (10 s at most) until deliveries on two processes are under way, so that
    one worker cannot take every delivery while the other is still starting."""
    import sys
    from pathlib import Path

    if directory := os.environ.get(RENDEZVOUS):
        (Path(directory) / str(os.getpid())).touch()
        deadline = time.monotonic() + 10
        while len(list(Path(directory).iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    return {"pid": os.getpid(), "preloaded": PRELOAD_PROBE in sys.modules, "warmed": os.environ.get(WARMED)}


def test_a_started_pool_warms_every_worker_before_its_first_delivery(
    settings: Settings, clients: Clients, target: ScheduleTarget, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from grandprix_local.dispatcher import WorkerPool

    monkeypatch.setenv(RENDEZVOUS, str(tmp_path))  # in the workers' environment: they are spawned after this
    when = utc(2025, 3, 16, 7)
    book_race_weekend(clients, target, ("FP1", "FP2", "FP3", "Q"), when)
    pool = WorkerPool(2, "processes", preload=(PRELOAD_PROBE, f"{__name__}:mark_warmed")).start()
    try:
        dispatcher = two_worker_processes(settings, clients, {target.function_arn: worker_modules}, when, pool=pool)
        firings = dispatcher.run_due()
    finally:
        pool.close()
    assert all(f.ok for f in firings), [f.error for f in firings]
    assert all(f.result["preloaded"] for f in firings)  # imported at the worker's start, not by the delivery
    assert all(f.result["warmed"] == str(f.result["pid"]) for f in firings)  # its init call ran in that worker
    assert len({f.result["pid"] for f in firings}) == 2  # both workers started, both delivered
    with pytest.raises(ValueError, match="the pool runs 2 processes, the dispatcher 3 processes"):
        local_dispatcher(settings, clients, {}, concurrency=3, worker_kind="processes", pool=pool)


def test_a_batch_starts_its_costliest_deliveries_first_and_reports_in_order(
    settings: Settings, clients: Clients, target: ScheduleTarget
) -> None:
    costs = {"FP3": 1.0, "Q": 2.5, "R": 4.0}
    dispatcher, started, _ = two_at_once(
        settings, clients, target, ("FP3", "Q", "R"), cost=lambda s: costs[json.loads(s.input)["session"]]
    )
    firings = dispatcher.run_due()

    assert sorted(started[:2]) == ["Q", "R"] and started[2] == "FP3"  # the longest first: no tail behind R
    assert [f.result for f in firings] == ["FP3", "Q", "R"]  # reported by (instant, name), as without costs


def test_each_schedule_is_read_once_until_it_changes(
    settings: Settings, clients: Clients, target: ScheduleTarget
) -> None:
    """Listing the group every time, the dispatcher reads (`get_schedule`) only schedules it has not read in their
    listed version: a schedule deleted and created again under its name, or disabled, is read again."""
    book_race_weekend(clients, target, ("R", "Q"), utc(2025, 3, 16, 7))
    reads: list[str] = []
    clients.scheduler.meta.events.register(
        "before-parameter-build.scheduler.GetSchedule", lambda params, **_: reads.append(params["Name"])
    )
    dispatcher = Dispatcher(clients.scheduler, clients.sqs, settings.group, {})
    first = dispatcher.schedules()
    assert dispatcher.schedules() == first and dispatcher.schedules() == first
    assert sorted(reads) == ["ingest-2025-01-Q-a1", "ingest-2025-01-R-a1"]  # once each, for three listings

    reads.clear()
    clients.scheduler.delete_schedule(Name="ingest-2025-01-R-a1", GroupName=settings.group)
    book_race_weekend(clients, target, ("R",), utc(2025, 3, 17, 9))  # the same name, another instant
    quali = next(s for s in first if s.name == "ingest-2025-01-Q-a1")
    clients.scheduler.update_schedule(
        Name=quali.name,
        GroupName=settings.group,
        ScheduleExpression=quali.raw["ScheduleExpression"],
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=quali.raw["Target"],
        State="DISABLED",
    )
    again = dispatcher.schedules()
    assert sorted(reads) == ["ingest-2025-01-Q-a1", "ingest-2025-01-R-a1"]
    assert [(s.name, s.at) for s in again] == [("ingest-2025-01-R-a1", utc(2025, 3, 17, 9))]
