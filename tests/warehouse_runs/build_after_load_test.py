"""The transformer's build after a load (`dbt_runner.selection.build_after_load`) on real data: a session re-landed
without two of its datasets equals a full rebuild. Its own file, so its embedded stack runs in a process of its own
(runs_test.py's module fixture holds another one open)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

from dbt_runner.runner import run_dbt
from f1common.datasets import Dataset
from f1common.settings import Settings
from f1common.testing import f1data_dir_or_skip
from warehouse_runs.runs_test import (
    RELANDED,
    RUN,
    _all_keys,
    _current_tables,
    _land_run,
    _load,
    _session_manifest,
    assert_equal_to_full_rebuild,
    sessions_landed,
)


def test_a_build_after_a_load_that_relands_a_session_without_two_datasets_equals_a_full_rebuild(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The transformer's build after a load (`build_after_load`: only what is downstream of the changed datasets) on
    a session re-landed without its weather and drivers: the new run's manifest does not list them, and their staging
    tables do not grow, yet the session's old rows of both must go."""
    from dbt_runner.selection import build_after_load

    settings = Settings(f1data_dir=f1data_dir_or_skip())
    stamps = (dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=i) for i in range(10**6))
    artifacts = tmp_path / "artifacts"
    with sessions_landed(tmp_path, settings) as landing:
        loaded = _all_keys(landing)
        _load(landing, loaded, stamps, monkeypatch)
        assert build_after_load(landing.path, artifacts).plan.full
        original = _session_manifest(landing, RELANDED)
        tables = _current_tables(landing.s3, landing.settings.bucket, original.run_id)
        kept = {d: t for d, t in tables.items() if d not in (Dataset.WEATHER, Dataset.DRIVERS)}
        missing = {Dataset.WEATHER: "no weather this time", Dataset.DRIVERS: "no driver list this time"}
        _land_run(landing, RELANDED, kept, original.created_at + dt.timedelta(hours=2), missing=missing)
        _load(landing, [k for k in _all_keys(landing) if k not in set(loaded)], stamps, monkeypatch)
        after = build_after_load(landing.path, artifacts)
        assert not after.plan.full and after.run is not None
        full = tmp_path / "full.duckdb"
        shutil.copyfile(landing.path, full)
        run_dbt([*RUN, "--full-refresh"], warehouse_path=full, artifacts_dir=tmp_path / "full")
        assert_equal_to_full_rebuild(landing.path, full)
        with duckdb.connect(str(landing.path), read_only=True) as con:
            for model in ("stg_fastf1__weather", "stg_fastf1__drivers", "fct_weather"):
                sql = f"select count(*) from analytics.{model} where session_key = '{RELANDED}'"
                assert con.execute(sql).fetchall() == [(0,)], f"{model}: the re-landed run has none, the old rows go"
