"""What a build after a load publishes, on the project itself (`dbt ls`: parsed, no warehouse)."""

from __future__ import annotations

import json
from pathlib import Path

from dbt_runner.runner import PROJECT_DIR
from dbt_runner.selection import publish_selection, selection
from f1common.datasets import DATASETS, SESSION_DATASETS

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
            n for n in published if n.startswith(("test.", "unit_test.", "model.grandprix_insights.stg_fastf1"))
        }
