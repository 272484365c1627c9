from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from dbt_runner.runner import DbtRunError, forget_parsed, parse_key, parse_options, run_dbt

PROFILE = """
toy:
  target: local
  outputs:
    local:
      type: duckdb
      path: "{{ env_var('GPI_WAREHOUSE_PATH') }}"
      schema: main
"""


def _toy_project(root: Path, model_sql: str) -> Path:
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text("name: toy\nversion: '1.0'\nconfig-version: 2\nprofile: toy\n")
    (root / "profiles.yml").write_text(PROFILE)
    (root / "models" / "answer.sql").write_text(model_sql)
    return root


def test_runs_dbt_on_the_given_warehouse_and_releases_the_file(tmp_path: Path) -> None:
    project = _toy_project(tmp_path / "toy", "select 42 as answer")
    warehouse = tmp_path / "toy.duckdb"
    run = run_dbt(["run"], project_dir=project, warehouse_path=warehouse, artifacts_dir=tmp_path / "out")
    assert run.success and run.invocation_id
    assert run.node("model.toy.answer").status == "success"
    with duckdb.connect(str(warehouse)) as con:  # not locked by dbt any more
        assert con.execute("select answer from main.answer").fetchall() == [(42,)]


def test_a_failing_model_raises_naming_the_node_and_the_error(tmp_path: Path) -> None:
    project = _toy_project(tmp_path / "toy", "select * from no_such_table")
    with pytest.raises(DbtRunError, match=r"(?s)model\.toy\.answer \[error\]: .*no_such_table"):
        run_dbt(["run"], project_dir=project, warehouse_path=tmp_path / "toy.duckdb", artifacts_dir=tmp_path / "out")


def test_a_missing_project_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no dbt_project.yml"):
        run_dbt(["parse"], project_dir=tmp_path)


def _answer(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("select answer from main.answer").fetchall()


def test_a_warm_process_parses_once_and_again_when_the_project_changes(tmp_path: Path) -> None:
    forget_parsed()
    project = _toy_project(tmp_path / "toy", "select 42 as answer")
    warehouse, out = tmp_path / "toy.duckdb", tmp_path / "out"
    first = run_dbt(["run"], project_dir=project, warehouse_path=warehouse, artifacts_dir=out)
    second = run_dbt(["run"], project_dir=project, warehouse_path=warehouse, artifacts_dir=out)
    assert first.parsed and not second.parsed, "the second run reuses the manifest of the first"
    assert second.node("model.toy.answer").status == "success" and _answer(warehouse) == [(42,)]
    (project / "models" / "answer.sql").write_text("select 43 as answer")
    changed = run_dbt(["run"], project_dir=project, warehouse_path=warehouse, artifacts_dir=out)
    assert changed.parsed and _answer(warehouse) == [(43,)], "a changed model is parsed again, not the kept SQL"
    (project / "models" / "other.sql").write_text("select 1 as one")
    added = run_dbt(["run"], project_dir=project, warehouse_path=warehouse, artifacts_dir=out)
    assert added.parsed and {n.unique_id for n in added.nodes} == {"model.toy.answer", "model.toy.other"}


def test_a_kept_manifest_is_not_reused_in_another_environment(tmp_path: Path) -> None:
    forget_parsed()
    project = _toy_project(tmp_path / "toy", "select 42 as answer")
    out = tmp_path / "out"
    run_dbt(["run"], project_dir=project, warehouse_path=tmp_path / "a.duckdb", artifacts_dir=out)
    other = run_dbt(["run"], project_dir=project, warehouse_path=tmp_path / "b.duckdb", artifacts_dir=out)
    assert other.parsed and _answer(tmp_path / "b.duckdb") == [(42,)]
    (project / "profiles.yml").write_text(PROFILE.replace("schema: main", "schema: main\n      threads: 3"))
    assert run_dbt(["run"], project_dir=project, warehouse_path=tmp_path / "b.duckdb", artifacts_dir=out).parsed


def test_parse_key_follows_the_project_the_profile_and_the_environment(tmp_path: Path) -> None:
    project = _toy_project(tmp_path / "toy", "select 42 as answer")
    key = parse_key(project, project, {"GPI_WAREHOUSE_PATH": "a", "HOME": "/root"})
    assert parse_key(project, project, {"GPI_WAREHOUSE_PATH": "a", "HOME": "/elsewhere"}) == key
    assert parse_key(project, project, {"GPI_WAREHOUSE_PATH": "b"}) != key
    assert parse_key(project, project, {"GPI_WAREHOUSE_PATH": "a", "SNOWFLAKE_ROLE": "r"}) != key
    (project / "models" / "answer.sql").write_text("select 43 as answer")
    assert parse_key(project, project, {"GPI_WAREHOUSE_PATH": "a"}) != key


def test_a_command_with_other_vars_parses_with_them(tmp_path: Path) -> None:
    forget_parsed()
    project = _toy_project(tmp_path / "toy", "select {{ var('answer', 42) }} as answer")
    warehouse, out = tmp_path / "toy.duckdb", tmp_path / "out"
    run_dbt(["run"], project_dir=project, warehouse_path=warehouse, artifacts_dir=out)
    seven = run_dbt(["run", "--vars", "{answer: 7}"], project_dir=project, warehouse_path=warehouse, artifacts_dir=out)
    assert seven.parsed and _answer(warehouse) == [(7,)]
    again = run_dbt(["run"], project_dir=project, warehouse_path=warehouse, artifacts_dir=out)
    assert again.parsed and _answer(warehouse) == [(42,)]


def test_parse_options_are_the_vars_target_and_profile() -> None:
    args = ["build", "--select", "a+", "--vars", "{x: 1}", "--target=prod", "--threads", "4", "--profile", "p"]
    assert parse_options(args) == ["--vars", "{x: 1}", "--target=prod", "--profile", "p"]
    assert parse_options(["test", "--select", "a"]) == []
