"""End to end on real sessions: `run_local` (scheduler -> dispatcher -> ingestion -> S3 -> SQS -> loader ->
DuckDB staging -> dbt) and the dashboard marts it produces; then the same run again (nothing new) and a
run with one more session (only that session is processed).

The three runs share one state directory, in order: the marts are checked on a copy of the warehouse
taken right after the first run.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from f1common.ergast import read_ergast_csv
from f1common.layout import parse_data_key
from f1common.sessions import SessionId
from f1common.testing import f1data_dir_or_skip
from f1common.transform import TRANSFORMER_STATE_PREFIX
from grandprix_local.run import RunOptions, RunSummary, run_local

SESSIONS = ("2023-01-R", "2025-01-Q", "2025-01-R")
ADDED = "2023-03-R"
SESSION_TABLES = ("laps_staging", "results_staging", "drivers_info_staging", "weather_staging", "race_control_staging")


@dataclass(frozen=True)
class Snapshot:
    """What the warehouse held after a run."""

    loaded_files: frozenset[str]
    staging_by_session: dict[tuple[str, str], int]  # (table, session key) -> rows
    facts_by_session: dict[tuple[str, str, str], int]  # (table, session key, dbt invocation) -> rows


@dataclass(frozen=True)
class Run:
    summary: RunSummary
    snapshot: Snapshot
    log: list[str]


def _options(state: Path, sessions: Sequence[str]) -> RunOptions:
    return RunOptions(
        state_dir=state,
        sessions=[SessionId.parse(k) for k in sessions],
        data_dir=f1data_dir_or_skip(),
        dashboards=False,
    )


def _run(state: Path, sessions: Sequence[str]) -> Run:
    log: list[str] = []
    options = _options(state, sessions)
    summary = run_local(options, progress=log.append)
    assert summary.ok, "\n".join(log)
    return Run(summary, _snapshot(options.warehouse), log)


def _snapshot(warehouse: Path) -> Snapshot:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        files = frozenset(r[0] for r in con.execute("select file_name from staging.load_history").fetchall())
        staging: dict[tuple[str, str], int] = {}
        for table in SESSION_TABLES:
            query = f"select printf('%04d-%02d-%s', season, round, session), count(*) from staging.{table} group by 1"
            staging.update({(table, key): n for key, n in con.execute(query).fetchall()})
        facts: dict[tuple[str, str, str], int] = {}
        for table in ("fct_laps", "fct_race_results", "fct_weather", "fct_race_control"):
            query = (
                f"select session_key, _dbt_invocation_id, count(*) from analytics.{table} "
                "where season >= 2023 group by 1, 2"
            )
            facts.update({(table, key, inv): n for key, inv, n in con.execute(query).fetchall()})
        return Snapshot(files, staging, facts)
    finally:
        con.close()


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="module")
def first_run(state_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Run, Path]]:
    run = _run(state_dir, SESSIONS)
    copy = tmp_path_factory.mktemp("first") / "warehouse.duckdb"
    shutil.copyfile(state_dir / "warehouse.duckdb", copy)
    yield run, copy


@pytest.fixture(scope="module")
def second_run(first_run: tuple[Run, Path], state_dir: Path) -> Run:
    return _run(state_dir, SESSIONS)


@pytest.fixture(scope="module")
def third_run(second_run: Run, state_dir: Path) -> Run:
    return _run(state_dir, (*SESSIONS, ADDED))


@pytest.fixture(scope="module")
def run_after_a_model_change(third_run: Run, state_dir: Path) -> Run:
    """A run after the dbt project changed (the recorded project fingerprint no longer matches)."""
    # the transformer's state, as the next run restores it into the embedded S3
    (state_dir / "aws" / "s3" / TRANSFORMER_STATE_PREFIX / "project.sha256").write_text("an older dbt project\n")
    return _run(state_dir, (*SESSIONS, ADDED))


@pytest.fixture
def marts(first_run: tuple[Run, Path]) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(first_run[1]), read_only=True)
    yield con
    con.close()


def _rows(con: duckdb.DuckDBPyConnection, query: str, *params: object) -> list[tuple[Any, ...]]:
    return con.execute(query, list(params)).fetchall()


# --- the first run -------------------------------------------------------------------------------


def test_first_run_ingests_every_session_through_the_scheduler(first_run: tuple[Run, Path]) -> None:
    summary = first_run[0].summary
    assert sorted(summary.replay.ingested) == sorted(SESSIONS)
    assert summary.replay.errors == [] and summary.replay.quarantined == 0 and summary.dlq_messages == 0
    assert summary.calendar == {"INGESTED": len(SESSIONS)}
    assert summary.dbt == "ok"
    assert {key for (_, key) in first_run[0].snapshot.staging_by_session} == set(SESSIONS)
    # the loader's health check ran on the warehouse: every landed file of the day's runs is LOADED
    loaded = len(first_run[0].snapshot.loaded_files)
    assert summary.health == {"LOADED": loaded, "FAILED": 0, "MISSING": 0, "IN_FLIGHT": 0}
    with duckdb.connect(str(first_run[1]), read_only=True) as con:
        found = con.execute("select kind, status, healthy, count(*) from staging.load_health group by all").fetchall()
    assert found == [("file", "LOADED", True, loaded)]


def test_the_calendar_sync_lands_each_season_schedule_once(
    first_run: tuple[Run, Path], second_run: Run, marts: duckdb.DuckDBPyConnection
) -> None:
    """The sync asks the ingestion service to land each season's schedule (as in the cloud); the dashboards
    name every session's event from it; an unchanged schedule is not landed again."""
    first_log, second_log = "\n".join(first_run[0].log), "\n".join(second_run.log)
    assert "schedule 2023: {'schedule': " in first_log and "schedule 2025: {'schedule': " in first_log
    assert "schedule 2023: unchanged (already landed)" in second_log
    events = _rows(marts, "select distinct session_key, event_name from analytics.mart_positions_by_lap order by 1")
    assert events == [
        ("2023-01-R", "Bahrain Grand Prix"),
        ("2025-01-Q", "Australian Grand Prix"),
        ("2025-01-R", "Australian Grand Prix"),
    ]


def test_verstappen_wins_bahrain_2023_with_25_points(marts: duckdb.DuckDBPyConnection) -> None:
    assert _rows(
        marts,
        "select driver_code, points, cumulative_points, wins from analytics.mart_driver_standings "
        "where season = 2023 and round = 1 and position = 1",
    ) == [("VER", 25.0, 25.0, 1)]
    # the same winner as the official classification in the Ergast dump (raceId of 2023 round 1)
    dump = f1data_dir_or_skip() / "ergast"
    races = read_ergast_csv(dump / "races.csv", "ergast_races").to_pandas()
    race_id = int(races[(races["year"] == 2023) & (races["round"] == 1)]["race_id"].iloc[0])
    results = read_ergast_csv(dump / "results.csv", "ergast_results").to_pandas()
    winner = results[(results["race_id"] == race_id) & (results["position_order"] == 1)].iloc[0]
    assert _rows(
        marts,
        "select driver_number, points from analytics.fct_race_results where session_key = '2023-01-R' "
        "and position = 1",
    ) == [(str(int(winner["number"])), float(winner["points"]))]
    constructors = _rows(
        marts,
        "select team_name, points from analytics.mart_constructor_standings "
        "where season = 2023 and round = 1 and position = 1",
    )
    assert constructors == [("Red Bull", 43.0)]  # VER 25 + PER 18


def test_norris_wins_australia_2025_from_the_fastf1_data(marts: duckdb.DuckDBPyConnection) -> None:
    podium = _rows(
        marts,
        "select driver_code, points from analytics.fct_race_results where session_key = '2025-01-R' "
        "and position <= 3 order by position",
    )
    assert podium == [("NOR", 25.0), ("VER", 18.0), ("RUS", 15.0)]
    assert _rows(
        marts,
        "select driver_code, cumulative_points, wins from analytics.mart_driver_standings "
        "where season = 2025 and round = 1 and position = 1",
    ) == [("NOR", 25.0, 1)]
    # McLaren and Mercedes are level on 27 points; McLaren leads on the countback (a win)
    assert _rows(
        marts,
        "select team_name, points, position from analytics.mart_constructor_standings "
        "where season = 2025 and round = 1 and position <= 2 order by position, team_name",
    ) == [("McLaren", 27.0, 1), ("Mercedes", 27.0, 2)]


@pytest.mark.parametrize("session_key", ["2023-01-R", "2025-01-R"])
def test_positions_by_lap_has_every_lap_of_every_classified_driver(
    marts: duckdb.DuckDBPyConnection, session_key: str
) -> None:
    classified = _rows(
        marts,
        "select driver_number, driver_code, laps from analytics.fct_race_results "
        "where session_key = ? and is_classified",
        session_key,
    )
    assert len(classified) >= 10
    season, rnd, session = session_key.split("-")
    for number, code, laps in classified:
        got = _rows(
            marts,
            "select lap_number, position from analytics.mart_positions_by_lap "
            "where season = ? and round = ? and session = ? and driver_number = ? order by lap_number",
            int(season),
            int(rnd),
            session,
            number,
        )
        assert [lap for lap, _ in got] == list(range(1, int(laps) + 1)), f"{session_key} {code}"
        assert all(position is not None for _, position in got), f"{session_key} {code}: lap without position"
    # the winner leads the last lap with no gap to the leader
    last = _rows(
        marts,
        "select p.driver, p.position, p.gap_to_leader_ms from analytics.mart_positions_by_lap p "
        "join analytics.fct_race_results r on r.season = p.season and r.round = p.round "
        "and r.session = p.session and r.driver_number = p.driver_number "
        "where r.session_key = ? and r.position = 1 and p.lap_number = r.laps",
        session_key,
    )
    assert len(last) == 1 and last[0][1] == 1 and last[0][2] == 0


def test_positions_by_lap_matches_the_laps_fact(marts: duckdb.DuckDBPyConnection) -> None:
    counts = _rows(
        marts,
        "select f.session_key, count(*), (select count(*) from analytics.mart_positions_by_lap m "
        "where m.season = f.season and m.round = f.round and m.session = f.session) "
        "from analytics.fct_laps f group by f.session_key, f.season, f.round, f.session order by 1",
    )
    assert [key for key, _, _ in counts] == sorted(SESSIONS)
    assert all(laps == mart for _, laps, mart in counts)


def test_session_weather_shows_the_wet_australian_race(marts: duckdb.DuckDBPyConnection) -> None:
    weather: dict[str, float] = dict(
        _rows(
            marts,
            "select season || '-' || session, rain_fraction from analytics.mart_session_pace_weather "
            "where round = 1 and season in (2023, 2025)",
        )
    )
    assert set(weather) == {"2023-R", "2025-Q", "2025-R"}
    assert weather["2023-R"] == 0 and weather["2025-Q"] == 0
    assert weather["2025-R"] > 0.1  # it rained during the 2025 Australian Grand Prix


# --- the second run: nothing new -----------------------------------------------------------------


def test_second_run_with_nothing_new_loads_nothing(first_run: tuple[Run, Path], second_run: Run) -> None:
    first = first_run[0]
    replay = second_run.summary.replay
    assert replay.ingested == [] and replay.firings == 0, "\n".join(second_run.log)
    assert replay.files_loaded == 0 and replay.rows_loaded == 0
    assert "this run: 0 sessions ingested" in "\n".join(second_run.summary.lines())
    assert second_run.snapshot.loaded_files == first.snapshot.loaded_files
    assert second_run.summary.staging_rows == first.summary.staging_rows
    assert second_run.snapshot.staging_by_session == first.snapshot.staging_by_session
    # dbt ran incrementally: no fact row was rewritten (same dbt invocation ids as the first run)
    assert second_run.snapshot.facts_by_session == first.snapshot.facts_by_session
    assert second_run.summary.fact_rows == first.summary.fact_rows


# --- the third run: one session more -------------------------------------------------------------


def test_adding_a_session_processes_only_that_session(second_run: Run, third_run: Run) -> None:
    before, after = second_run.snapshot, third_run.snapshot
    assert third_run.summary.replay.ingested == [ADDED], "\n".join(third_run.log)
    new_files = after.loaded_files - before.loaded_files
    assert new_files and before.loaded_files <= after.loaded_files
    assert {str(parse_data_key(f).session_id) for f in new_files} == {ADDED}

    assert {k: v for k, v in after.staging_by_session.items() if k[1] != ADDED} == before.staging_by_session
    assert {k for k in after.staging_by_session if k[1] == ADDED} == {(t, ADDED) for t in SESSION_TABLES}

    old_facts = {k: v for k, v in after.facts_by_session.items() if k[1] != ADDED}
    assert old_facts == {k: v for k, v in before.facts_by_session.items() if k[1] != ADDED}  # same rows, same dbt run
    added = {k: v for k, v in after.facts_by_session.items() if k[1] == ADDED}
    assert {table for table, _, _ in added} == {"fct_laps", "fct_race_results", "fct_weather", "fct_race_control"}
    assert len({inv for _, _, inv in added}) == 1  # written by the third run's dbt build only
    laps = after.staging_by_session[("laps_staging", ADDED)]
    assert sum(v for (table, _, _), v in added.items() if table == "fct_laps") == laps


def test_a_changed_dbt_project_rebuilds_every_fact_once(third_run: Run, run_after_a_model_change: Run) -> None:
    """Incremental facts only recompute new sessions, so new model logic needs one full refresh of old ones."""
    assert "(full refresh: a new or changed dbt project)" in "\n".join(run_after_a_model_change.log)
    assert run_after_a_model_change.summary.replay.ingested == []
    before, after = third_run.snapshot.facts_by_session, run_after_a_model_change.snapshot.facts_by_session
    assert {(t, k): n for (t, k, _), n in after.items()} == {(t, k): n for (t, k, _), n in before.items()}
    assert len({inv for _, _, inv in after}) == 1, "every fact row rewritten by the one full-refresh build"
    assert not {inv for _, _, inv in after} & {inv for _, _, inv in before}
