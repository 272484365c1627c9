"""`dbt build` of the whole project on a warehouse loaded from the shared real F1 data by the
project's own ingestion and loader, then an incremental run after one new session."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import duckdb
import pytest

from dbt_runner.runner import TEST_SCOPE_ENV, DbtRun, run_dbt
from dbt_runner.selection import BuildResult, build_after_load
from f1common.settings import Settings
from f1common.testing import f1data_dir_or_skip
from grandprix_local.harness import EmbeddedStack, embedded_stack

# A real race weekend with every session kind that scores or sets a grid (2023 Azerbaijan: sprint
# shootout, sprint, qualifying) and two races, one of them without points/grid/status in FastF1.
INITIAL_SESSIONS = ("2023-01-R", "2023-03-R", "2023-04-Q", "2023-04-SS", "2023-04-S")
NEW_SESSION = "2023-10-R"
FACTS = {
    "fct_laps": "laps_staging",
    "fct_weather": "weather_staging",
    "fct_race_control": "race_control_staging",
}


def _require_shared_data() -> Settings:
    return Settings(f1data_dir=f1data_dir_or_skip())


@dataclass
class Built:
    landing: EmbeddedStack
    artifacts: Path
    full: DbtRun
    full_seconds: float

    @property
    def path(self) -> Path:
        return self.landing.path

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.path), read_only=True) as con:
            return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    settings = _require_shared_data()
    work = tmp_path_factory.mktemp("dbt-build")
    with embedded_stack(work, f1data_dir=settings.f1data_dir, notifications=False) as landing:
        landing.land_ergast()
        landing.land_schedules([2023])
        for session in INITIAL_SESSIONS:
            landing.land_session(session)
        landing.load_new_files()
        started = time.perf_counter()
        full = build_after_load(landing.path, work).run  # no record of an earlier build: everything
        assert full is not None
        yield Built(landing, work, full, time.perf_counter() - started)


@pytest.fixture(scope="module")
def incremental_build(built: Built) -> BuildResult:
    """Lands and loads one more session, then builds what changed (incremental facts)."""
    built.landing.land_session(NEW_SESSION)
    built.landing.load_new_files()
    result = build_after_load(built.path, built.artifacts)
    print(f"\nfull dbt build {built.full_seconds:.1f}s, incremental dbt build {result.seconds:.1f}s")
    return result


@pytest.fixture(scope="module")
def incremental(incremental_build: BuildResult) -> DbtRun:
    assert incremental_build.run is not None
    return incremental_build.run


def test_full_build_runs_every_model_test_and_unit_test(built: Built) -> None:
    statuses = {n.unique_id: n.status for n in built.full.nodes}
    assert built.full.success
    assert not {k: v for k, v in statuses.items() if v not in ("success", "pass")}
    kinds = {uid.split(".")[0] for uid in statuses}
    assert {"model", "test", "unit_test", "snapshot"} <= kinds
    for name in ("fct_laps", "fct_race_results", "fct_weather", "fct_pit_stops", "fct_race_control",
                 "dim_drivers", "dim_teams", "dim_circuits", "dim_sessions", "mart_positions_by_lap",
                 "mart_driver_standings", "mart_constructor_standings", "mart_lap_weather",
                 "mart_session_pace_weather"):  # fmt: skip
        assert statuses[f"model.grandprix_insights.{name}"] == "success"
    for name in ("assert_classified_finishers_lap_count_matches_results", "assert_lap_numbers_contiguous"):
        assert statuses[f"test.grandprix_insights.{name}"] == "pass"


def test_2023_driver_standings_after_the_final_round(built: Built) -> None:
    rows = built.query(
        """select position, driver_id, cumulative_points, wins from analytics.mart_driver_standings
           where season = 2023 and round = (select max(round) from analytics.mart_driver_standings where season = 2023)
           order by position, driver_id limit 5"""
    )
    # The official 2023 table: Alonso and Leclerc tie on 206, Alonso is 4th on countback (more 3rd places).
    assert rows == [
        (1, "max_verstappen", 575.0, 19),
        (2, "perez", 285.0, 2),
        (3, "hamilton", 234.0, 0),
        (4, "alonso", 206.0, 0),
        (5, "leclerc", 206.0, 0),
    ]


def test_2023_constructor_standings_after_the_final_round(built: Built) -> None:
    rows = built.query(
        """select constructor_id, cumulative_points from analytics.mart_constructor_standings
           where season = 2023 and round = 22 order by position limit 3"""
    )
    assert rows == [("red_bull", 860.0), ("mercedes", 409.0), ("ferrari", 406.0)]


def test_facts_hold_every_loaded_row_once(built: Built) -> None:
    for fact, staging in FACTS.items():
        [(fact_rows, staged)] = built.query(
            f"select (select count(*) from analytics.{fact}), (select count(*) from staging.{staging})"
        )
        assert fact_rows == staged > 0, fact


def test_results_are_reconciled_with_ergast(built: Built) -> None:
    # FastF1's 2023 Australian GP results have no points, grid or status: Ergast supplies them.
    rows = built.query(
        """select driver_id, points, grid, status, points_source, has_fastf1_result
           from analytics.fct_race_results where session_key = '2023-03-R' order by finish_order"""
    )
    assert len(rows) == 20
    assert rows[0] == ("max_verstappen", 25.0, 1, "Finished", "ergast", True)
    assert all(r[5] for r in rows), "every FastF1 driver matched an Ergast result"
    # the sprint is reconciled too
    [(sprint_rows, sprint_points)] = built.query(
        "select count(*), sum(points) from analytics.fct_race_results where session_key = '2023-04-S'"
    )
    assert (sprint_rows, sprint_points) == (20, 36.0)


def test_dim_drivers_keeps_a_drivers_teams_over_time(built: Built) -> None:
    rows = built.query(
        """select constructor_id, valid_from, valid_to, is_current from analytics.dim_drivers
           where driver_id = 'ricciardo' order by valid_from"""
    )
    assert [r[0] for r in rows] == ["hrt", "toro_rosso", "red_bull", "renault", "mclaren", "alphatauri", "rb"]
    assert all(a[2] == b[1] for a, b in pairwise(rows)), "each version ends when the next begins"
    assert [r[3] for r in rows] == [False] * 6 + [True]
    # the current version comes from the snapshot
    [(source,)] = built.query(
        "select version_source from analytics.dim_drivers where driver_id = 'ricciardo' and is_current"
    )
    assert source == "snapshot"


def test_positions_by_lap_has_the_gap_to_the_leader(built: Built) -> None:
    rows = built.query(
        """select driver, position, gap_to_leader_ms from analytics.mart_positions_by_lap
           where season = 2023 and round = 1 and session = 'R' and lap_number = 57 order by position limit 2"""
    )
    assert rows[0][:2] == ("VER", 1) and rows[0][2] == 0
    assert rows[1][:2] == ("PER", 2) and 10_000 < rows[1][2] < 13_000  # Pérez was 11.987 s behind


def test_gap_to_the_leader_leaves_out_red_flag_suspensions(built: Built) -> None:
    """2023 Australia had three red flags (laps 7, 54 and 56): lap-end times around them include the stoppage."""
    by_lap = dict(
        built.query(
            """select lap_number, count(gap_to_leader_ms) from analytics.fct_laps
           where session_key = '2023-03-R' group by lap_number"""
        )
    )
    assert [lap for lap, gaps in sorted(by_lap.items()) if gaps == 0] == [8, 9, 55, 56, 57, 58]
    ((worst_gap_s, red_flag_laps),) = built.query(
        """select max(gap_to_leader_ms) / 1000.0, count(*) filter (where is_red_flag_lap) from analytics.fct_laps
           where session_key = '2023-03-R'"""
    )
    assert red_flag_laps > 0
    assert worst_gap_s < 150, f"a gap of {worst_gap_s} s: a suspension leaked into the gap to the leader"
    ((russell_gap,),) = built.query(  # Russell retired on lap 18: his last lap ended when the car was recovered
        "select gap_to_leader_ms from analytics.fct_laps where session_key = '2023-03-R' and driver_code = 'RUS' "
        "and lap_number = 18"
    )
    assert russell_gap is None


def test_incremental_run_touches_only_the_new_session(built: Built, incremental: DbtRun) -> None:
    assert incremental.success and incremental.invocation_id
    new_rows = {
        "fct_laps": "laps_staging",
        "fct_weather": "weather_staging",
        "fct_race_control": "race_control_staging",
        "fct_race_results": "results_staging",
    }
    season, rnd, session = NEW_SESSION.split("-")
    for fact, staging in new_rows.items():
        touched = built.query(
            f"""select session_key, count(*) from analytics.{fact}
                where _dbt_invocation_id = '{incremental.invocation_id}' group by session_key"""
        )
        [(staged,)] = built.query(
            f"""select count(*) from staging.{staging}
                where season = {season} and round = {int(rnd)} and session = '{session}'"""
        )
        assert touched == [(NEW_SESSION, staged)], fact
    # pit stops: the new session's FastF1 stops merged with the Ergast stops already there
    touched_stops = built.query(
        f"""select distinct session_key from analytics.fct_pit_stops
            where _dbt_invocation_id = '{incremental.invocation_id}'"""
    )
    assert touched_stops == [(NEW_SESSION,)]
    [(merged,)] = built.query(
        f"""select count(*) from analytics.fct_pit_stops
            where session_key = '{NEW_SESSION}' and has_fastf1_timing and has_ergast_stop"""
    )
    assert merged > 0
    # the sessions of the first run were not rewritten
    [(rewritten,)] = built.query(
        f"""select count(*) from analytics.fct_laps
            where session_key <> '{NEW_SESSION}' and _dbt_invocation_id = '{incremental.invocation_id}'"""
    )
    assert rewritten == 0


def test_a_build_after_a_new_session_runs_only_what_is_downstream_of_its_datasets(
    incremental_build: BuildResult,
) -> None:
    assert {d.value for d in incremental_build.plan.datasets} == {
        "laps",
        "results",
        "drivers",
        "weather",
        "race_control",
    }
    assert incremental_build.run is not None and incremental_build.tests is not None
    ran = {n.unique_id.split(".")[-1] for n in incremental_build.run.nodes if n.unique_id.startswith("model.")}
    assert {"stg_landing__runs", "int_sessions__input_versions", "fct_laps", "mart_positions_by_lap"} <= ran
    # views are not recreated to publish new rows; the session datasets' staging tables are rebuilt for the session
    staged = {n for n in ran if n.startswith(("stg_fastf1__", "stg_ergast__"))}
    assert staged == {f"stg_fastf1__{d}" for d in ("laps", "results", "drivers", "weather", "race_control")}
    tested = {n.unique_id for n in incremental_build.tests.nodes}
    assert any("stg_fastf1__laps" in t for t in tested) and any(t.startswith("unit_test.") for t in tested)
    assert not [t for t in tested if re.match(r"test\.grandprix_insights\.(not_null|unique)_stg_ergast__", t)]
    unchanged = {n for n in ran if n.startswith("stg_ergast__") or n in ("dim_circuits", "stg_fastf1__schedule")}
    assert not unchanged


def test_a_build_with_nothing_new_starts_no_dbt(built: Built, incremental_build: BuildResult) -> None:
    started = time.perf_counter()
    again = build_after_load(built.path, built.artifacts)
    assert again.run is None and again.plan.nothing_new
    assert time.perf_counter() - started < 5.0


def _failing(run: DbtRun, test_prefix: str) -> bool:
    [status] = [n.status for n in run.nodes if n.unique_id.startswith(f"test.grandprix_insights.{test_prefix}")]
    return status == "fail"


def test_the_tests_after_a_load_check_the_new_sessions_rows_and_still_fail_on_a_bad_one(
    built: Built, incremental_build: BuildResult
) -> None:
    assert incremental_build.plan.test_sessions == (NEW_SESSION,)
    assert incremental_build.tests is not None and incremental_build.tests.success

    def tests(scope: str | None) -> DbtRun:
        env = {} if scope is None else {TEST_SCOPE_ENV: scope}
        return run_dbt(
            ["test", "--select", "fct_laps", "mart_positions_by_lap", "--quiet"],
            warehouse_path=built.path,
            artifacts_dir=built.artifacts,
            raise_on_failure=False,
            env=env,
        )

    bad_rows = [  # a lap without its id, a duplicated lap in the mart (the mart's key is season, round, session)
        ("fct_laps", "select * replace (null as lap_id) from analytics.fct_laps where session_key = ? limit 1",
         "delete from analytics.fct_laps where lap_id is null", "not_null_fct_laps_lap_id"),
        ("mart_positions_by_lap",
         "select * from analytics.mart_positions_by_lap where season = ? and round = ? and session = ? limit 1",
         "delete from analytics.mart_positions_by_lap "
         "where rowid = (select max(rowid) from analytics.mart_positions_by_lap)",
         "unique_mart_positions_by_lap_"),
    ]  # fmt: skip
    for old_session in (NEW_SESSION, "2023-01-R"):
        s, r, c = old_session.split("-")
        with duckdb.connect(str(built.path)) as con:
            con.execute(f"insert into analytics.fct_laps {bad_rows[0][1]}", [old_session])
            con.execute(f"insert into analytics.mart_positions_by_lap {bad_rows[1][1]}", [int(s), int(r), c])
        try:
            scoped, complete = tests(NEW_SESSION), tests(None)
        finally:
            with duckdb.connect(str(built.path)) as con:
                for _, _, undo, _ in bad_rows:
                    con.execute(undo)
        for *_, name in bad_rows:
            assert _failing(complete, name), name  # every row checked: the bad row fails the test
            # restricted to the new session: fails on its bad row, passes over the rows of the sessions before
            assert _failing(scoped, name) == (old_session == NEW_SESSION), (name, old_session)
    assert tests(NEW_SESSION).success
    # the scope becomes SQL literals: anything but session keys is refused
    assert not tests(f"{NEW_SESSION},x') or ('1' = '1").success
