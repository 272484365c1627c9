"""What a build after a load publishes, on the project itself (`dbt ls`: parsed, no warehouse)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import duckdb

from dbt_runner.runner import PROJECT_DIR
from dbt_runner.selection import (
    StagingState,
    changed_datasets,
    publish_selection,
    read_state_from,
    scope_of_tests,
    selection,
)
from f1common.datasets import DATASETS, ERGAST_DATASETS, SESSION_DATASETS, Dataset, dataset_spec
from f1common.warehouse import LOAD_MANIFESTS, LOAD_QUARANTINE, STAGING_SCHEMA, all_ddl

MATERIALIZED = ("config.materialized:table", "config.materialized:incremental", "resource_type:snapshot")
NOT_TESTS = ["--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]


def _ls(args: list[str], tmp_path: Path) -> set[str]:
    from dbt.cli.main import dbtRunner

    paths = ["--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR)]
    paths += ["--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")]
    result = dbtRunner().invoke(["ls", *args, "--output", "json", "--output-keys", "unique_id", "--quiet", *paths])
    assert result.success and isinstance(result.result, list), result.exception
    return {json.loads(line)["unique_id"] for line in result.result}


def test_publishing_runs_the_tables_incrementals_and_snapshot_of_the_selection_only(tmp_path: Path) -> None:
    for datasets in (list(SESSION_DATASETS), list(DATASETS)):
        select = selection(datasets)
        # the definition: each selector intersected with each materialization that stores rows
        intersections = [f"{s},{kind}" for s in select for kind in MATERIALIZED]
        wanted = _ls(["--select", *intersections, *NOT_TESTS], tmp_path)
        published = _ls(publish_selection(select), tmp_path)
        assert published == wanted
        assert {"model.grandprix_insights.fct_laps", "model.grandprix_insights.mart_driver_standings"} <= published
        assert not {
            n
            for n in published
            if n.startswith(("test.", "unit_test.", "model.grandprix_insights.stg_ergast"))
            or n == "model.grandprix_insights.stg_fastf1__schedule"  # the staging views
        }


def _state(runs: dict[str, int], sessions: dict[str, str], quarantined: int = 0) -> StagingState:
    return StagingState(
        rows={"laps_staging": sum(runs.values()), LOAD_QUARANTINE: quarantined},
        runs=frozenset(r for r in runs if r in sessions or r.startswith("schedule")),
        run_rows=runs,
        sessions=sessions,
    )


def test_the_tests_after_a_load_check_the_sessions_whose_runs_are_new_or_grew() -> None:
    laps = [Dataset.LAPS]
    before = _state({"r1": 10, "r2": 5}, {"r1": "2023-01-R", "r2": "2023-03-R"})
    # a new run of a new session, and the late files of a run whose manifest was there before
    now = _state({"r1": 10, "r2": 8, "r3": 7}, {"r1": "2023-01-R", "r2": "2023-03-R", "r3": "2023-10-R"})
    assert scope_of_tests(before, now, laps) == ("2023-03-R", "2023-10-R")
    # files of a run whose manifest has not landed: no model reads them yet
    unlisted = _state({"r1": 10, "r2": 5, "r4": 3}, {"r1": "2023-01-R", "r2": "2023-03-R"})
    assert scope_of_tests(before, unlisted, laps) == ()


def test_every_row_is_tested_when_the_change_is_not_confined_to_sessions() -> None:
    before = _state({"r1": 10}, {"r1": "2023-01-R"})
    new_session = _state({"r1": 10, "r3": 7}, {"r1": "2023-01-R", "r3": "2023-10-R"})
    assert scope_of_tests(None, new_session, [Dataset.LAPS]) is None  # no earlier build: a full one
    assert scope_of_tests(replace(before, run_rows=None), new_session, [Dataset.LAPS]) is None  # an older state
    assert scope_of_tests(before, new_session, [Dataset.LAPS, Dataset.SCHEDULE]) is None
    assert scope_of_tests(before, new_session, [Dataset.LAPS, next(iter(ERGAST_DATASETS))]) is None
    assert scope_of_tests(before, replace(new_session, rows={**new_session.rows, LOAD_QUARANTINE: 1}), []) is None
    schedule_run = replace(new_session, runs=new_session.runs | {"schedule-run"})
    assert scope_of_tests(before, schedule_run, [Dataset.LAPS]) is None
    bad_key = replace(new_session, sessions={"r1": "2023-01-R", "r3": "2023-10-R') or ('1"})
    assert scope_of_tests(before, bad_key, [Dataset.LAPS]) is None


def test_the_state_keeps_the_rows_of_each_run() -> None:
    state = _state({"r1": 10}, {"r1": "2023-01-R"})
    again = StagingState.from_json(state.to_json())
    assert again.run_rows == {"r1": 10} and again.runs == state.runs and again.rows == state.rows
    older = StagingState.from_json(json.dumps({"rows": {"laps_staging": 1}, "runs": ["r1"]}))
    assert older.run_rows is None


def test_the_state_names_the_session_of_each_session_manifest_in_the_contract() -> None:
    manifests = [
        ("race", 2023, 5, "R", [Dataset.LAPS]),
        ("sprint", 2024, 11, "SQ", [Dataset.LAPS, Dataset.RESULTS]),
        ("replica", 2123, 5, "R", [Dataset.LAPS]),  # a season beyond the contract's (LAST_SEASON)
        ("alias", 2024, 12, "race", [Dataset.LAPS]),  # not a code as the models key rows: no scope from it
        ("schedule", 2024, None, None, [Dataset.SCHEDULE]),
    ]
    with duckdb.connect() as con:
        for statement in all_ddl("duckdb"):
            con.execute(statement)
        for run_id, season, round_, session, datasets in manifests:
            files = json.dumps([{"dataset": d.value} for d in datasets])
            con.execute(
                f"insert into {STAGING_SCHEMA}.{LOAD_MANIFESTS} values (?, 'fastf1', ?, ?, ?, now(), ?, ?, now())",
                [run_id, season, round_, session, files, f"manifests/{run_id}.json"],
            )
        state, listed = read_state_from(con)
    assert state.sessions == {"race": "2023-05-R", "sprint": "2024-11-SQ"}
    assert state.runs == {"race", "sprint", "replica", "alias", "schedule"}
    assert listed["sprint"] == sorted([Dataset.LAPS.value, Dataset.RESULTS.value])


def test_a_change_to_one_session_dataset_rebuilds_every_session_dataset() -> None:
    # a session re-landed without weather: its manifest lists the other datasets, its old weather rows must go
    before = StagingState(rows={"laps_staging": 10, "weather_staging": 5}, runs=frozenset({"r1"}))
    now = StagingState(rows={"laps_staging": 18, "weather_staging": 5}, runs=frozenset({"r1", "r2"}))
    listed = {"r1": ["laps", "weather"], "r2": ["laps"]}
    assert set(changed_datasets(before, now, listed)) == set(SESSION_DATASETS)
    # the Ergast history alone changes no session's runs
    ergast = next(iter(ERGAST_DATASETS))
    grown = {**before.rows, dataset_spec(ergast).staging_table.lower(): 3}
    history = StagingState(rows=grown, runs=frozenset({"r1", "h1"}))
    assert changed_datasets(before, history, {"h1": [ergast.value]}) == [ergast]
