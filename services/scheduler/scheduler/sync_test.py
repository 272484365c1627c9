import datetime as dt
from collections import Counter

from f1common.datasets import ScheduleRow
from f1common.events import CalendarStatus
from f1common.names import CALENDAR_KEY
from f1common.race_calendar import RaceCalendar, next_session
from scheduler.actions import Clients
from scheduler.conftest import utc
from scheduler.planning import SchedulingPolicy, run_scheduling
from scheduler.schedules import ScheduleTarget, list_schedule_names
from scheduler.sync import sync_season

NOW = utc(2025, 1, 1)


def test_sync_real_2025_and_2026_schedules(
    season_rows: dict[int, list[ScheduleRow]], table: RaceCalendar, clients: Clients, target: ScheduleTarget
) -> None:
    for season, rounds in ((2025, 24), (2026, 23)):
        report = sync_season(season, season_rows[season], table, clients.scheduler, target.group, NOW)
        assert len(report.created) == rounds * 5 and not report.skipped and not report.invalid
        items = table.scan(season=season).items
        assert sorted({i.round for i in items}) == list(range(1, rounds + 1))
        assert {i.status for i in items} == {CalendarStatus.PENDING}
        by_round = {r: {i.session.code for i in items if i.round == r} for r in range(1, rounds + 1)}
        sprint_rounds = [r for r, codes in by_round.items() if "S" in codes]
        assert len(sprint_rounds) == 6
        for r in sprint_rounds:
            assert by_round[r] == {"FP1", "SQ", "S", "Q", "R"}
        assert (
            Counter(frozenset(c) for c in by_round.values())[frozenset({"FP1", "FP2", "FP3", "Q", "R"})] == rounds - 6
        )
    china = table.get("2025-02-S")
    assert china is not None
    assert (china.event_name, china.country, china.location) == ("Chinese Grand Prix", "China", "Shanghai")
    assert china.start_utc == utc(2025, 3, 22, 3, 0)
    assert china.end_utc == utc(2025, 3, 22, 4, 0)
    # the stored timestamps are ISO-8601 UTC strings
    raw = clients.dynamodb.get_item(TableName=table.table_name, Key={CALENDAR_KEY: {"S": "2025-02-S"}})["Item"]
    assert raw["start_utc"] == {"S": "2025-03-22T03:00:00Z"}
    # re-running changes nothing
    again = sync_season(2025, season_rows[2025], table, clients.scheduler, target.group, NOW + dt.timedelta(days=1))
    assert (again.created, again.updated, again.cancelled, len(again.unchanged)) == ([], [], [], 120)


def test_next_session_after_an_instant(
    season_rows: dict[int, list[ScheduleRow]], table: RaceCalendar, clients: Clients, target: ScheduleTarget
) -> None:
    sync_season(2025, season_rows[2025], table, clients.scheduler, target.group, NOW)
    items = table.scan().items
    nxt = next_session(items, utc(2025, 3, 15, 6, 0))  # after the Australian qualifying started
    assert nxt is not None and nxt.pk == "2025-01-R" and nxt.start_utc == utc(2025, 3, 16, 4, 0)
    nxt = next_session(items, utc(2025, 3, 16, 4, 0))  # strictly after: the next weekend's first practice
    assert nxt is not None and nxt.pk == "2025-02-FP1" and nxt.start_utc == utc(2025, 3, 21, 3, 30)
    nxt = next_session(items, utc(2025, 5, 1))
    assert nxt is not None and nxt.pk == "2025-06-FP1"
    assert next_session(items, utc(2025, 12, 31)) is None


def test_changed_race_date_updates_the_item_and_its_schedule(
    season_rows: dict[int, list[ScheduleRow]],
    table: RaceCalendar,
    clients: Clients,
    target: ScheduleTarget,
    policy: SchedulingPolicy,
) -> None:
    rows = [r for r in season_rows[2025] if r.round <= 2]
    sync_season(2025, rows, table, clients.scheduler, target.group, NOW)
    run_scheduling(utc(2025, 3, 16, 6, 0), table, clients.scheduler, target, policy)
    assert table.get("2025-01-R").status is CalendarStatus.SCHEDULED  # type: ignore[union-attr]
    assert "ingest-2025-01-R-a1" in list_schedule_names(clients.scheduler, target.group)

    postponed = [
        r.model_copy(update={"session_start_utc": r.session_start_utc + dt.timedelta(days=7)})  # type: ignore[operator]
        if (r.round, r.session) == (1, "R")
        else r
        for r in rows
    ]
    report = sync_season(2025, postponed, table, clients.scheduler, target.group, utc(2025, 3, 16, 6, 30))
    assert report.updated == ["2025-01-R"] and not report.created and not report.cancelled
    item = table.get("2025-01-R")
    assert item is not None
    assert item.start_utc == utc(2025, 3, 23, 4, 0) and item.end_utc == utc(2025, 3, 23, 6, 0)
    assert item.status is CalendarStatus.PENDING and item.schedule_name is None
    assert "ingest-2025-01-R-a1" not in list_schedule_names(clients.scheduler, target.group)

    later = run_scheduling(utc(2025, 3, 23, 6, 0), table, clients.scheduler, target, policy)
    assert "ingest-2025-01-R-a2" in later.scheduled
    schedule = clients.scheduler.get_schedule(Name="ingest-2025-01-R-a2", GroupName=target.group)
    assert schedule["ScheduleExpression"] == "at(2025-03-23T07:00:00)"


def test_cancelled_session_is_marked_not_deleted(
    season_rows: dict[int, list[ScheduleRow]], table: RaceCalendar, clients: Clients, target: ScheduleTarget
) -> None:
    rows = [r for r in season_rows[2025] if r.round <= 4]
    sync_season(2025, rows, table, clients.scheduler, target.group, NOW)
    table.update("2025-03-R", {"status": CalendarStatus.INGESTED, "run_id": "r1"}, expect={})
    without_round_3 = [r for r in rows if r.round != 3]
    report = sync_season(2025, without_round_3, table, clients.scheduler, target.group, NOW)
    assert sorted(report.cancelled) == ["2025-03-FP1", "2025-03-FP2", "2025-03-FP3", "2025-03-Q"]
    items = table.scan(season=2025).by_key()
    assert len(items) == 20
    assert items["2025-03-Q"].status is CalendarStatus.CANCELLED
    assert items["2025-03-R"].status is CalendarStatus.INGESTED  # it took place: left alone
    restored = sync_season(2025, rows, table, clients.scheduler, target.group, NOW)
    assert sorted(restored.restored) == sorted(report.cancelled)
    assert table.get("2025-03-Q").status is CalendarStatus.PENDING  # type: ignore[union-attr]


def test_rows_without_start_and_unreadable_items_are_reported_not_fatal(
    season_rows: dict[int, list[ScheduleRow]],
    table: RaceCalendar,
    clients: Clients,
    target: ScheduleTarget,
    policy: SchedulingPolicy,
) -> None:
    rows = [r for r in season_rows[2025] if r.round == 1]
    broken = [r.model_copy(update={"session_start_utc": None}) if r.session == "FP2" else r for r in rows]
    report = sync_season(2025, broken, table, clients.scheduler, target.group, NOW)
    assert report.skipped == ["2025-01-FP2: no scheduled start"]
    assert len(report.created) == 4
    # a session that loses its start time is reported again, not cancelled
    lost = [r.model_copy(update={"session_start_utc": None}) if r.session == "FP1" else r for r in broken]
    again = sync_season(2025, lost, table, clients.scheduler, target.group, NOW)
    assert again.skipped == ["2025-01-FP1: no scheduled start", "2025-01-FP2: no scheduled start"]
    assert again.cancelled == [] and table.get("2025-01-FP1").status is CalendarStatus.PENDING  # type: ignore[union-attr]
    # an item with no start (e.g. written by hand) and another service's record share the table
    clients.dynamodb.put_item(
        TableName=table.table_name,
        Item={
            CALENDAR_KEY: {"S": "2025-01-FP2"},
            "season": {"N": "2025"},
            "round": {"N": "1"},
            "session": {"S": "FP2"},
        },
    )
    clients.dynamodb.put_item(
        TableName=table.table_name, Item={CALENDAR_KEY: {"S": "idempotency#2025-01-R#1"}, "expires_at": {"N": "1"}}
    )
    result = run_scheduling(utc(2025, 3, 16, 6, 0), table, clients.scheduler, target, policy)
    assert len(result.invalid) == 1
    assert result.invalid[0].startswith("2025-01-FP2: calendar item 2025-01-FP2:")
    assert "start_utc: Field required" in result.invalid[0]
    assert sorted(result.scheduled) == [
        "ingest-2025-01-FP1-a1",
        "ingest-2025-01-FP3-a1",
        "ingest-2025-01-Q-a1",
        "ingest-2025-01-R-a1",
    ]
