from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from dbt_runner.runner import DbtRunError, run_dbt

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
