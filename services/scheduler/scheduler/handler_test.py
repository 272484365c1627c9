import datetime as dt
import io
import json

import pytest

from f1common.datasets import ScheduleRow
from f1common.events import BadRequest, CalendarStatus, IngestionRequest
from f1common.lambda_context import LocalContext
from f1common.names import METRICS_NAMESPACE
from f1common.race_calendar import RaceCalendar
from f1common.schedule import ScheduleError
from f1common.settings import Settings
from scheduler.actions import Clients, run_event
from scheduler.conftest import max_in_window, utc
from scheduler.events import BackfillEvent, ScheduleEvent, SyncEvent, parse_event
from scheduler.handler import handler, logger
from scheduler.ratelimit import JOLPICA, LIVE_TIMING, SESSION_COST
from scheduler.schedules import list_schedule_names, parse_at_expression, schedule_landing_name


def test_events_are_validated_at_the_edge() -> None:
    assert isinstance(parse_event({}), ScheduleEvent)
    assert isinstance(parse_event(None), ScheduleEvent)
    sync = parse_event({"action": "sync", "season": 2025, "seasons": [2026, 2025]})
    assert isinstance(sync, SyncEvent) and sync.all_seasons(utc(2027, 1, 1)) == [2025, 2026]
    current = parse_event({"action": "sync"})
    assert isinstance(current, SyncEvent) and current.all_seasons(utc(2026, 5, 1)) == [2026]
    backfill = parse_event({"action": "backfill", "from_season": 2023, "to_season": 2025, "sessions": ["race", "Q"]})
    assert isinstance(backfill, BackfillEvent) and [s.code for s in backfill.sessions or []] == ["R", "Q"]
    # what an EventBridge rule adds around a recurring event is ignored
    assert isinstance(parse_event({"source": "aws.scheduler", "detail": {}, "time": "x"}), ScheduleEvent)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"action": "sync", "season": 1900}, "season: Input should be greater than or equal to 1950"),
        ({"action": "backfill", "from_season": 2025, "to_season": 2023}, "from_season 2025 is after to_season 2023"),
        ({"action": "backfill", "from_season": 2025, "to_season": 2025, "sessions": ["Warmup"]}, "'Warmup'"),
        ({"action": "explode"}, "does not match any of the expected tags: 'schedule', 'sync', 'backfill'"),
        ({"action": "schedule", "seasons": [2025]}, "schedule.seasons: Extra inputs are not permitted"),
        ({"action": "schedule", "now": "2025-03-16T08:00:00"}, "now must carry a time zone"),
        ([1, 2], "expected an object, got list"),
    ],
)
def test_bad_events_name_what_is_wrong(event: object, message: str) -> None:
    with pytest.raises(BadRequest, match="invalid scheduler event") as info:
        parse_event(event)
    assert message in str(info.value)


def test_lambda_handler_syncs_and_schedules_with_metrics_and_logs(
    settings: Settings,
    clients: Clients,
    season_rows: dict[int, list[ScheduleRow]],  # skips without the shared FastF1 cache
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log_stream = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", log_stream)
    context = LocalContext(function_name="gpi-test-scheduler", invoked_function_arn="arn:aws:lambda:::gpi-test")
    synced = handler({"action": "sync", "season": 2025}, context)
    assert synced["counts"] == {"SessionsSynced": 120, "SessionsCancelled": 0, "CalendarItemsInvalid": 0}
    result = handler({"now": "2025-03-16T05:30:00Z"}, context)  # the recurring event; simulated instant
    assert result["action"] == "schedule"
    assert "ingest-2025-01-R-a1" in result["scheduled"]
    assert result["counts"]["SessionsScheduled"] == len(result["scheduled"]) == 5
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    emf = [o for o in out if "_aws" in o]
    assert len(emf) == 2
    directive = emf[-1]["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == METRICS_NAMESPACE
    assert {m["Name"] for m in directive["Metrics"]} >= {"SessionsScheduled", "SessionsOverdue", "SessionsFailed"}
    assert emf[-1]["SessionsScheduled"] == [5.0] and emf[-1]["service"] == "scheduler"
    logs = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    done = [o for o in logs if o["message"] == "scheduler run complete"]
    assert len(done) == 2 and done[-1]["function_name"] == "gpi-test-scheduler" and done[-1]["level"] == "INFO"
    assert done[-1]["counts"]["SessionsScheduled"] == 5
    scheduled = [o for o in logs if o["message"] == "ingestion scheduled"]
    assert {o["session"] for o in scheduled} == {"2025-01-FP1", "2025-01-FP2", "2025-01-FP3", "2025-01-Q", "2025-01-R"}


def test_every_sync_asks_the_ingestion_service_to_land_the_season_schedule(
    settings: Settings, clients: Clients, season_rows: dict[int, list[ScheduleRow]]
) -> None:
    now = utc(2026, 1, 10, 6, 30)
    result = run_event({"action": "sync", "seasons": [2025]}, settings, clients, now=now, load=season_rows.__getitem__)
    run_event({"action": "sync", "seasons": [2025]}, settings, clients, now=now, load=season_rows.__getitem__)

    [summary] = result["seasons"]
    assert summary["schedule_landing"] == "land-schedule-2025-20260110T0630" == schedule_landing_name(2025, now)
    assert [n for n in list_schedule_names(clients.scheduler, settings.group)] == [summary["schedule_landing"]]
    raw = clients.scheduler.get_schedule(Name=summary["schedule_landing"], GroupName=settings.group)
    # the same target, retries and dead-letter queue as a session's ingestion, a minute after the sync
    assert json.loads(raw["Target"]["Input"]) == {"kind": "schedule", "season": 2025}
    assert parse_at_expression(raw["ScheduleExpression"]) == now + dt.timedelta(minutes=1)
    assert raw["Target"]["Arn"].endswith(f":function:{settings.names.ingestion_function}")
    assert raw["Target"]["DeadLetterConfig"]["Arn"].endswith(settings.dlq)
    later = run_event(
        {"action": "schedule", "sync_seasons": [2025]},
        settings,
        clients,
        now=now + dt.timedelta(days=1),
        load=season_rows.__getitem__,
    )
    assert later["synced"][0]["schedule_landing"] == schedule_landing_name(2025, now + dt.timedelta(days=1))


def test_backfill_schedules_past_sessions_within_fastf1_limits(
    settings: Settings, clients: Clients, season_rows: dict[int, list[ScheduleRow]]
) -> None:
    table = RaceCalendar(clients.dynamodb, settings.table)
    now = utc(2026, 1, 10)
    load = season_rows.__getitem__
    run_event({"action": "sync", "season": 2025}, settings, clients, now=now, load=load)
    table.update("2025-01-R", {"status": CalendarStatus.INGESTED, "run_id": "run-1"}, expect={})

    result = run_event(
        {"action": "backfill", "from_season": 2025, "to_season": 2025}, settings, clients, now=now, load=load
    )
    assert result["counts"]["SessionsScheduled"] == 119 and result["skipped"] == {"INGESTED": 1}
    stored = list_schedule_names(clients.scheduler, settings.group)
    # the backfill's sync asked the ingestion service to land the season's schedule, once per sync minute
    assert [n for n in stored if not n.startswith("ingest-")] == [schedule_landing_name(2025, now)]
    names = [n for n in stored if n.startswith("ingest-")]
    assert len(names) == 119 and "ingest-2025-01-R-a1" not in names
    plans = []
    for name in names:
        raw = clients.scheduler.get_schedule(Name=name, GroupName=settings.group)
        request = IngestionRequest.parse(json.loads(raw["Target"]["Input"]))
        assert request.reason == "backfill"
        plans.append(parse_at_expression(raw["ScheduleExpression"]))
    plans.sort()
    assert plans[0] >= now + dt.timedelta(minutes=1)
    # the ingestions these schedules start stay within FastF1's hourly limits in every sliding hour
    hour = dt.timedelta(hours=1)
    assert max_in_window(plans, [SESSION_COST[LIVE_TIMING]] * len(plans), hour) <= 500
    assert max_in_window(plans, [SESSION_COST[JOLPICA]] * len(plans), hour) <= 200
    assert plans[-1] - now > dt.timedelta(hours=4)

    # a second backfill finds everything scheduled or ingested and books nothing new
    again = run_event(
        {"action": "backfill", "from_season": 2025, "to_season": 2025, "sync": False}, settings, clients, now=now
    )
    assert again["counts"]["SessionsScheduled"] == 0 and again["skipped"] == {"SCHEDULED": 119, "INGESTED": 1}


def test_backfill_of_selected_sessions_books_after_already_scheduled_ones(
    settings: Settings, clients: Clients, season_rows: dict[int, list[ScheduleRow]]
) -> None:
    now = utc(2026, 1, 10)
    load = season_rows.__getitem__
    first = run_event(
        {"action": "backfill", "from_season": 2025, "to_season": 2025, "sessions": ["R"]},
        settings,
        clients,
        now=now,
        load=load,
    )
    assert first["counts"]["SessionsScheduled"] == 24
    second = run_event(
        {"action": "backfill", "from_season": 2025, "to_season": 2025, "sessions": ["Q"], "sync": False},
        settings,
        clients,
        now=now,
    )
    assert second["counts"]["SessionsScheduled"] == 24
    plans = sorted(
        parse_at_expression(clients.scheduler.get_schedule(Name=n, GroupName=settings.group)["ScheduleExpression"])
        for n in list_schedule_names(clients.scheduler, settings.group)
        if n.startswith("ingest-")
    )
    assert len(plans) == 48
    assert max_in_window(plans, [SESSION_COST[LIVE_TIMING]] * 48, dt.timedelta(hours=1)) <= 500
    assert dt.datetime.fromisoformat(second["first_at"]) > dt.datetime.fromisoformat(first["first_at"])


def test_schedule_action_syncs_first_and_survives_a_schedule_outage(
    settings: Settings, clients: Clients, season_rows: dict[int, list[ScheduleRow]]
) -> None:
    now = utc(2025, 3, 16, 5, 30)
    first = run_event({"sync_seasons": [2025]}, settings, clients, now=now, load=season_rows.__getitem__)
    assert first["synced"][0]["created"] == 120 and first["sync_errors"] == []
    assert "ingest-2025-01-R-a1" in first["scheduled"]

    def outage(season: int) -> list[ScheduleRow]:
        raise ScheduleError(f"cannot load the FastF1 event schedule of season {season}: offline")

    later = run_event({"sync_seasons": [2025]}, settings, clients, now=utc(2025, 3, 21, 6, 0), load=outage)
    assert later["sync_errors"] == ["cannot load the FastF1 event schedule of season 2025: offline"]
    assert later["scheduled"] == ["ingest-2025-02-FP1-a1"]  # scheduled from the stored calendar
    with pytest.raises(ScheduleError, match="season 2025: offline"):
        run_event({"action": "sync", "season": 2025}, settings, clients, now=now, load=outage)


def test_backfill_without_retry_failed_schedules_only_sessions_never_tried(
    settings: Settings, clients: Clients, season_rows: dict[int, list[ScheduleRow]]
) -> None:
    table = RaceCalendar(clients.dynamodb, settings.table)
    now = utc(2026, 1, 10)
    rows = [r for r in season_rows[2025] if r.round == 1]
    run_event({"action": "sync", "season": 2025}, settings, clients, now=now, load=lambda _: rows)
    table.update("2025-01-R", {"status": CalendarStatus.FAILED, "attempt": 2}, expect={})
    event = {"action": "backfill", "from_season": 2025, "to_season": 2025, "sync": False}

    gaps = run_event({**event, "retry_failed": False}, settings, clients, now=now)
    assert gaps["counts"]["SessionsScheduled"] == len(rows) - 1 and gaps["skipped"] == {"FAILED": 1}
    retried = run_event(event, settings, clients, now=now)
    assert retried["counts"]["SessionsScheduled"] == 1  # the default retries the FAILED one too
    assert "ingest-2025-01-R-a3" in list_schedule_names(clients.scheduler, settings.group)
