"""Every panel's SQL runs on a warehouse built from the real data and returns rows for the default variables,
in both dialects: DuckDB directly, Snowflake through fakesnow (which translates Snowflake SQL to DuckDB)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import duckdb
import fakesnow
import pytest
import snowflake.connector

from f1common.events import CalendarItem, CalendarStatus
from f1common.warehouse import RACE_CALENDAR_COLUMN_NAMES as COLUMN_NAMES
from f1common.warehouse import replace_load_health
from f1common.warehouse import replace_race_calendar as export_calendar
from grandprix_dashboards import alert_eval, alerts
from grandprix_dashboards.panels import DashboardSpec, Kind
from grandprix_dashboards.query import (
    QueryError,
    Warehouse,
    resolve_options,
    resolve_variables,
    run_panel,
    variable_choices,
    variable_options,
)
from grandprix_dashboards.race_progress import PACE_DROP
from grandprix_dashboards.sql import SAFE_KEY, SNOWFLAKE, interpolate, percent_encode, render
from grandprix_dashboards.team_colours import colour_of, driver_of


@pytest.fixture(scope="module")
def wh(warehouse_path: Path) -> Any:
    with Warehouse(warehouse_path) as warehouse:
        yield warehouse


@pytest.fixture(scope="module")
def defaults(wh: Warehouse, specs: list[DashboardSpec]) -> dict[str, dict[str, list[str]]]:
    return {spec.uid: resolve_variables(wh, spec) for spec in specs}


def test_variables_have_values_and_sensible_defaults(
    wh: Warehouse, specs: list[DashboardSpec], defaults: dict[str, dict[str, list[str]]]
) -> None:
    for spec in specs:
        values = defaults[spec.uid]
        for var in spec.variables:
            options = variable_options(wh, spec, var, values)
            assert options, f"{spec.title}: ${var.name} has no values"
            if var.include_all:
                assert values[var.name] == options, "All selects every value"
            else:
                assert values[var.name] == [options[0]]
    race = defaults["gpi-race-progress"]
    seasons = variable_options(wh, specs[0], specs[0].variables[0], {})
    assert race["season"] == [max(seasons, key=int)], "the latest season comes first"
    assert race["session"] == ["R"] or "R" not in variable_options(wh, specs[0], specs[0].variables[2], race)


def test_every_key_of_the_real_data_is_safe_and_names_one_option(wh: Warehouse, specs: list[DashboardSpec]) -> None:
    """Every option of every variable, for every selection above it (each season, event, session), has a key
    that percent-encoding leaves as it is (else its panels would match nothing) and a name; keys are unique."""
    checked = 0
    for spec in specs:
        pending: list[dict[str, list[str]]] = [{}]
        for var in spec.variables:
            following = []
            for values in pending:
                offered = variable_choices(wh, spec, var, values)
                keys = [o.value for o in offered]
                assert len(keys) == len(set(keys)), f"{spec.title}: ${var.name} repeats a key for {values}"
                for option in offered:
                    assert (
                        SAFE_KEY.fullmatch(option.value) and percent_encode(option.value) == option.value
                    ), f"{spec.title}: ${var.name} key {option.value!r} ({option.text}) is not a safe key"
                    assert option.text, f"{spec.title}: ${var.name} key {option.value!r} has no name"
                checked += len(offered)
                following += [{**values, var.name: keys}] if var.multi else [{**values, var.name: [k]} for k in keys]
            pending = following
    assert checked > 1000


def test_every_panel_returns_rows_for_the_defaults(
    wh: Warehouse, specs: list[DashboardSpec], defaults: dict[str, dict[str, list[str]]]
) -> None:
    empty = []
    for spec in specs:
        for panel in spec.panels:
            result = run_panel(wh, spec, panel, defaults[spec.uid])
            missing = set(panel.columns) - set(result.columns)
            assert not missing, f"{spec.title} / {panel.title}: result lacks columns {missing}"
            if not result.rows:
                empty.append(f"{spec.title} / {panel.title}")
                assert panel.empty_ok, f"{spec.title} / {panel.title}: no rows for {defaults[spec.uid]}"
            if panel.kind is Kind.STAT:
                assert len(result.rows) == 1
    charts = [p for s in specs for p in s.panels if p.kind is not Kind.TABLE]
    assert all(not p.empty_ok for p in charts), "only tables may legitimately be empty"


def test_chart_values_are_real_data(
    wh: Warehouse, specs: list[DashboardSpec], defaults: dict[str, dict[str, list[str]]]
) -> None:
    race = next(s for s in specs if s.uid == "gpi-race-progress")
    values = defaults[race.uid]
    positions = run_panel(wh, race, race.panels[0], values)
    laps = positions.column("lap")
    assert min(laps) == 1 and max(laps) > 40, "a race default covers the whole race"
    assert set(positions.column("position")) <= set(range(1, 21))
    bands = dict(race.panels[0].bands)  # flag laps shaded behind the lines
    markers = {(d, lap) for d, lap in zip(positions.column("driver"), laps, strict=True) if d.startswith(PACE_DROP)}
    assert markers == {(f"{PACE_DROP} NOR", 56)}, "the pace-change alert's laps (2025 China: Norris' brakes)"
    # `VER · Red Bull Racing`, `PER (2) · Red Bull Racing`
    labels = set(positions.column("driver")) - set(bands) - {d for d, _ in markers}
    drivers = {driver_of(label) for label in labels}
    assert drivers <= set(values["driver"]) and len(drivers) >= 18, "every classified driver has a line"
    assert all(colour_of(label) for label in labels), "every driver's line has a team colour"


def test_snowflake_dialect_runs_with_the_same_results(
    warehouse_path: Path, specs: list[DashboardSpec], defaults: dict[str, dict[str, list[str]]], tmp_path: Path
) -> None:
    shutil.copy(warehouse_path, tmp_path / "GPI.db")  # fakesnow opens <db_path>/<DATABASE>.db
    with Warehouse(warehouse_path) as duck, fakesnow.patch(db_path=tmp_path):
        con = snowflake.connector.connect(database="GPI", schema="ANALYTICS")
        cursor = con.cursor()
        for spec in specs:
            values = defaults[spec.uid]
            for var in spec.variables:
                cursor.execute(interpolate(render(var.query, SNOWFLAKE), values))
                assert [str(r[0]) for r in cursor.fetchall()] == variable_options(duck, spec, var, values)
            for panel in spec.panels:
                sql = interpolate(render(panel.sql, SNOWFLAKE), values)
                cursor.execute(sql)
                rows = cursor.fetchall()
                expected = run_panel(duck, spec, panel, values)
                assert [d[0] for d in cursor.description] == expected.columns, f"{panel.title}: column names"
                assert len(rows) == len(expected.rows), f"{spec.title} / {panel.title}: row count differs"
        con.close()


def test_bad_query_names_the_panel(wh: Warehouse, specs: list[DashboardSpec]) -> None:
    spec = specs[0]
    # a hostile season stays a literal that fails the integer cast (sql.SEASON) instead of widening the query
    with pytest.raises(QueryError, match="Race progress: panel 'Positions by lap' failed.*2023%20or%201%3D1"):
        run_panel(
            wh,
            spec,
            spec.panels[0],
            {"season": ["2023 or 1=1"], "event": ["Chinese Grand Prix"], "session": ["R"], "driver": ["VER"]},
        )
    with pytest.raises(QueryError, match="x%27%20or%20%27a%27%3D%27a"):  # the event is its round: cast too
        run_panel(
            wh,
            spec,
            spec.panels[0],
            {"season": ["2025"], "event": ["x' or 'a'='a"], "session": ["R"], "driver": ["VER"]},
        )
    hostile = run_panel(
        wh,
        spec,
        spec.panels[0],
        {
            "season": ["2025"],
            "event": ["2"],
            "session": ["R' UNION SELECT 1, 'x', 1 --"],
            "driver": ["VER\\' or 1=1 --"],
        },
    )
    assert hostile.rows == []


def test_pipeline_health_lists_failed_overdue_and_quarantined(
    warehouse_path: Path, specs: list[DashboardSpec], tmp_path: Path
) -> None:
    """On a healthy warehouse those tables are empty; make two sessions late/FAILED and quarantine a file."""
    copy = tmp_path / "unhealthy.duckdb"
    shutil.copy(warehouse_path, copy)
    con = duckdb.connect(str(copy))
    columns = ", ".join(COLUMN_NAMES)
    rows = con.execute(f"select {columns} from staging.race_calendar order by pk").fetchall()
    items = [
        CalendarItem.model_validate({**dict(zip(COLUMN_NAMES, r, strict=True)), "session_name": "x"}) for r in rows
    ]
    now = dt.datetime.now(dt.UTC)
    failed = items[0].model_copy(update={"status": CalendarStatus.FAILED, "attempt": 9})
    overdue = items[1].model_copy(
        update={"status": CalendarStatus.NOT_AVAILABLE, "attempt": 3, "end_utc": now - dt.timedelta(hours=12)}
    )
    recent = items[2].model_copy(update={"status": CalendarStatus.SCHEDULED, "end_utc": now - dt.timedelta(hours=1)})
    export_calendar(con, [failed, overdue, recent, *items[3:]])
    file_name, run_id = con.execute("select file_name, run_id from staging.load_history limit 1").fetchone() or ("", "")
    con.execute(
        "insert into staging.load_quarantine values (?, ?, 'laps', 'schema mismatch: lap_time_ms', ?)",
        [file_name, run_id, now],
    )
    con.close()

    health = next(s for s in specs if s.uid == "gpi-pipeline-health")
    panels = {p.title: p for p in health.panels}
    with Warehouse(copy) as wh:
        problems = run_panel(wh, health, panels["Overdue or FAILED sessions"], {})
        assert [(r[0], r[2]) for r in problems.rows] == [(failed.pk, "FAILED"), (overdue.pk, "NOT_AVAILABLE")]
        quarantined = run_panel(wh, health, panels["Quarantined files (latest 50)"], {})
        assert [(r[1], r[3], r[4]) for r in quarantined.rows] == [("laps", file_name, "schema mismatch: lap_time_ms")]
        assert run_panel(wh, health, panels["Quarantined files"], {}).rows == [(1,)]
        assert run_panel(wh, health, panels["Sessions overdue or FAILED"], {}).rows == [(2,)]


@pytest.fixture
def unhealthy_findings(warehouse_path: Path, tmp_path: Path) -> Path:
    """The local run's check found every file loaded; replace its findings with a failed file, a missing one, one in
    flight and a pipe not running (rows of the contract, as the loader's check writes them)."""
    copy = tmp_path / "findings.duckdb"
    shutil.copy(warehouse_path, copy)
    con = duckdb.connect(str(copy))
    checked = con.execute("select count(*), min(healthy::int) from staging.load_health").fetchone()
    assert checked is not None and checked[0] > 0 and checked[1] == 1, "the local run's health check ran: all healthy"
    now = dt.datetime.now(dt.UTC)
    hour = dt.timedelta(hours=1)
    run = "20261201T100000Z-0a1b2c3d"
    findings = [
        (
            "file",
            f"dataset=laps/laps-{run}.parquet",
            "laps",
            run,
            "FAILED",
            False,
            "not a readable Parquet file",
            None,
            now - 3 * hour,
            now,
        ),
        (
            "file",
            f"dataset=weather/weather-{run}.parquet",
            "weather",
            run,
            "MISSING",
            False,
            "listed by the manifest of 2026-12-01T10:00:00Z; not in staging after 0:30:00",
            None,
            now - 2 * hour,
            now,
        ),
        ("file", f"dataset=results/results-{run}.parquet", "results", run, "IN_FLIGHT", True, None, None, now, now),
        ("file", f"dataset=drivers/drivers-{run}.parquet", "drivers", run, "LOADED", True, None, None, now, now),
        ("pipe", "GPI_PROD.STAGING.LAPS_PIPE", None, None, "PAUSED", False, None, 4, now - hour, now),
        ("pipe", "GPI_PROD.STAGING.RESULTS_PIPE", None, None, "RUNNING", True, None, 0, now, now),
    ]
    replace_load_health(con, findings)
    con.close()
    return copy


def test_pipeline_health_shows_the_load_health_findings(unhealthy_findings: Path, specs: list[DashboardSpec]) -> None:
    health = next(s for s in specs if s.uid == "gpi-pipeline-health")
    panels = {p.title: p for p in health.panels}
    with Warehouse(unhealthy_findings) as wh:
        assert run_panel(wh, health, panels["Open load-health findings"], {}).rows == [(3,)]
        listed = run_panel(wh, health, panels["Load-health findings (open and in flight)"], {}).rows
        assert [(r[0], r[1], r[2]) for r in listed] == [
            ("file", "FAILED", "laps"),
            ("file", "MISSING", "weather"),
            ("pipe", "PAUSED", None),
            ("file", "IN_FLIGHT", "results"),
        ]
        assert listed[0][5] == "not a readable Parquet file" and listed[2][8] == 4
        by_status = run_panel(wh, health, panels["Files by load-health status"], {}).rows
        assert sorted(by_status) == [("FAILED", 1), ("IN_FLIGHT", 1), ("LOADED", 1), ("MISSING", 1)]
        [(hours,)] = run_panel(wh, health, panels["Hours since the load-health check"], {}).rows
        assert 0 <= hours < 0.1


def test_chosen_variable_values_replace_the_defaults(wh: Warehouse, specs: list[DashboardSpec]) -> None:
    race = next(s for s in specs if s.uid == "gpi-race-progress")
    values = resolve_variables(wh, race, {"season": "2023", "event": "Australian Grand Prix"})
    assert values["season"] == ["2023"] and values["event"] == ["3"], "picked by name, keyed by round"
    assert resolve_variables(wh, race, {"season": "2023", "event": "3"}) == values, "or by key"
    shown = resolve_options(wh, race, {"season": "2023", "event": "3"})
    assert [o.text for o in shown["event"]] == ["Australian Grand Prix"]
    assert values["session"] == ["R"], "later variables still resolve as on load (race first)"
    assert "HAM" in values["driver"] and "PIA" in values["driver"], "the drivers of that race"
    with pytest.raises(QueryError, match=r"\$event = 'Monaco Grand Prix' is not one of its values"):
        resolve_variables(wh, race, {"season": "2023", "event": "Monaco Grand Prix"})


def test_the_load_health_rule_fires_once_per_open_finding(warehouse_path: Path, unhealthy_findings: Path) -> None:
    """Grafana's rule over the same findings: quiet on the healthy local run, one instance per open finding."""
    with Warehouse(warehouse_path) as wh:
        assert alert_eval.evaluate(wh, alerts.LOAD_HEALTH_FINDINGS) == []
    with Warehouse(unhealthy_findings) as wh:
        firing = alert_eval.evaluate(wh, alerts.LOAD_HEALTH_FINDINGS)
    assert [(f.labels["kind"], f.labels["status"], f.labels["dataset"]) for f in firing] == [
        ("file", "FAILED", "laps"),
        ("file", "MISSING", "weather"),
        ("pipe", "PAUSED", ""),
    ]
    failed, missing, paused = firing
    assert failed.summary.startswith("file dataset=laps/laps-") and failed.summary.endswith(" is FAILED")
    assert "for 3 h: not a readable Parquet file" in failed.description
    assert missing.values["A"] == 2.0
    assert paused.summary == "pipe GPI_PROD.STAGING.LAPS_PIPE is PAUSED"
