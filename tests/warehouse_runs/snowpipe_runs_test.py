"""Snowpipe mode is as safe as loader mode: only complete runs reach the facts, through the same mechanism.

In Snowpipe mode (the Snowflake stack's pipes, `infra/pulumi/gpi_infra/components/snowpipe.py`) each data file
loads as it arrives, with no manifest gate, and the manifests load into `load_manifests` through their own pipe.
Here the embedded stack's warehouse is loaded the same way, on real data: every file of the session's runs straight
into staging as it arrives (the pipe's COPY: no check against a manifest), every manifest into `load_manifests`
(the Ergast history and the schedule through the loader: they are not what is tested). A complete
run of a session lands; then a run of it that crashed before its manifest (newer, its laps cut short, no other
file), whose files reach staging; then a later complete run with fewer rows (a driver removed), whose manifest
arrives before its last file; then a later complete run whose laps file also holds another session's laps (the
loader refuses such a file; Snowpipe loads it, and the models read each file's rows of its own session only).
After each step an incremental `dbt run`, and the dbt test
`assert_facts_hold_only_current_complete_runs`: the facts hold only the latest complete run whatever staging
holds, and equal a full rebuild of the same staging data.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from dbt_runner.runner import DbtRunError, run_dbt
from f1common.datasets import Dataset, dataset_spec
from f1common.layout import data_key, is_manifest_key, manifest_key, new_run_id, parse_data_key
from f1common.manifest import Manifest
from f1common.settings import Settings
from f1common.testing import f1data_dir_or_skip
from grandprix_local.harness import EmbeddedStack, embedded_stack
from warehouse_runs.runs_test import (
    RUN,
    SEED,
    _all_keys,
    _current_tables,
    _land_run,
    _session_manifest,
    assert_equal_to_full_rebuild,
)

if TYPE_CHECKING:
    from loader.loading import LoadReport

SESSION = "2023-01-R"
OTHER = "2023-03-R"  # landed beside SESSION; its laps reappear in a run of SESSION
DROPPED_DRIVER = "1"
CRASHED_LAPS = 40  # the crashed run wrote this many laps, then died before its other files and its manifest
FACTS = ("fct_laps", "fct_weather", "fct_race_control")
TEST = ["test", "--select", "assert_facts_hold_only_current_complete_runs", "--quiet"]


def _snowpipe(landing: EmbeddedStack, keys: list[str], work: Path) -> None:
    """Loads `keys` as the pipes do: each data file into its staging table as it arrives (unchecked, with its run
    id from the key), each manifest into `load_manifests`."""
    from loader.duckdb_warehouse import DuckDBWarehouse
    from loader.loading import LandedFile

    s3, bucket = landing.s3, landing.settings.bucket
    with DuckDBWarehouse.open(landing.path) as warehouse:
        for key in keys:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            if is_manifest_key(key):
                warehouse.record_manifest(Manifest.from_json(body), key=key)
                continue
            parsed = parse_data_key(key)
            path = work / "arrived.parquet"
            path.write_bytes(body)
            meta = pq.read_metadata(path)
            landed = LandedFile(path, meta.num_rows, meta.schema.to_arrow_schema())
            warehouse.load_file(dataset_spec(parsed.dataset), landed, key=key, run_id=parsed.run_id, new_columns=[])


def _dbt(landing: EmbeddedStack, work: Path) -> str | None:
    """An incremental run, then the dbt test: its failure (a fact row of another run), None when it passes."""
    run_dbt(RUN, warehouse_path=landing.path, artifacts_dir=work)
    try:
        run_dbt(TEST, warehouse_path=landing.path, artifacts_dir=work)
    except DbtRunError as exc:
        return str(exc)[:500]
    return None


@dataclass
class Step:
    name: str
    current_run: str  # the run the session's facts must hold
    fact_runs: set[str]  # the runs the session's rows in the FastF1 facts come from after the step's dbt run
    staged_runs: set[str]  # the session's runs with rows in staging
    laps: int
    dropped: int  # the session's fact rows of the dropped driver
    dbt_test: str | None  # the failure of assert_facts_hold_only_current_complete_runs after the step, if any
    other_fact_runs: set[str]  # the runs OTHER's laps in fct_laps come from


@dataclass
class Landed:
    landing: EmbeddedStack
    work: Path
    steps: list[Step]
    other_run: str  # OTHER's one run
    mixed_laps_key: str  # the laps file of the last run, with OTHER's laps in it
    loader: LoadReport  # the last run through the loader, into a warehouse of its own


def _step(landing: EmbeddedStack, work: Path, name: str, current_run: str) -> Step:
    """An incremental dbt run and the dbt test, then what the session's facts and staging hold."""
    dbt_test = _dbt(landing, work)
    with duckdb.connect(str(landing.path), read_only=True) as con:
        [(laps, dropped)] = con.execute(
            f"""
            select count(*), count(*) filter (where driver_number = '{DROPPED_DRIVER}')
            from analytics.fct_laps where session_key = '{SESSION}'"""
        ).fetchall()
        runs = {
            r[0]
            for r in con.execute(
                " union ".join(
                    f"select distinct _run_id from analytics.{fact} where session_key = '{SESSION}'" for fact in FACTS
                )
            ).fetchall()
        }
        staged = {
            r[0]
            for r in con.execute(
                """select distinct _run_id from staging.laps_staging
            where season = 2023 and round = 1 and session = 'R'"""
            ).fetchall()
        }
        other_laps = f"select distinct _run_id from analytics.fct_laps where session_key = '{OTHER}'"
        other = {r[0] for r in con.execute(other_laps).fetchall()}
    return Step(name, current_run, runs, staged, laps, dropped, dbt_test, other)


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Landed]:
    from f1common.sessions import SessionId
    from ingestion.landing import put_table
    from loader.duckdb_warehouse import DuckDBWarehouse
    from loader.loading import load_keys

    settings = Settings(f1data_dir=f1data_dir_or_skip())
    work = tmp_path_factory.mktemp("snowpipe-runs")
    steps: list[Step] = []
    with embedded_stack(work, f1data_dir=settings.f1data_dir, in_process=True, notifications=False) as landing:
        s3, bucket = landing.s3, landing.settings.bucket
        landing.land_ergast()
        landing.land_schedules([2023])
        history = _all_keys(landing)  # the Ergast history and the schedule: through the loader, as either mode
        with DuckDBWarehouse.open(landing.path) as warehouse:
            load_keys(history, s3=s3, bucket=bucket, warehouse=warehouse)
        run_dbt(SEED, warehouse_path=landing.path, artifacts_dir=work)
        landing.land_session(SESSION)
        landing.land_session(OTHER)
        _snowpipe(landing, [k for k in _all_keys(landing) if k not in set(history)], work)
        complete = _session_manifest(landing, SESSION)
        tables = _current_tables(s3, bucket, complete.run_id)
        steps.append(_step(landing, work, "complete", complete.run_id))

        # a newer run that crashed after writing a part of its laps: no other file, no manifest
        crashed = new_run_id(complete.created_at + dt.timedelta(hours=1))
        partial = put_table(
            s3,
            bucket,
            data_key(Dataset.LAPS, crashed, session=SessionId.parse(SESSION)),
            Dataset.LAPS,
            tables[Dataset.LAPS].filter(pc.less_equal(tables[Dataset.LAPS]["lap_number"], CRASHED_LAPS)),
        )
        _snowpipe(landing, [partial.key], work)
        steps.append(_step(landing, work, "crashed", complete.run_id))

        # a later complete run without one driver; its manifest arrives before its laps file
        reduced = {
            d: tables[d].filter(pc.not_equal(tables[d]["driver_number"], DROPPED_DRIVER))
            for d in (Dataset.LAPS, Dataset.RESULTS, Dataset.DRIVERS)
        }
        reduced |= {d: tables[d] for d in (Dataset.WEATHER, Dataset.RACE_CONTROL)}
        later = _land_run(landing, SESSION, reduced, complete.created_at + dt.timedelta(hours=2))
        manifest = Manifest.from_json(s3.get_object(Bucket=bucket, Key=manifest_key(later))["Body"].read())
        laps_key = next(f.key for f in manifest.files if f.dataset is Dataset.LAPS)
        _snowpipe(landing, [*(f.key for f in manifest.files if f.key != laps_key), manifest_key(later)], work)
        steps.append(_step(landing, work, "later run, laps not arrived", complete.run_id))
        _snowpipe(landing, [laps_key], work)
        steps.append(_step(landing, work, "later run complete", later))

        # a later complete run of SESSION whose laps file also holds OTHER's laps, rows of another session
        other = _session_manifest(landing, OTHER)
        other_laps = _current_tables(s3, bucket, other.run_id)[Dataset.LAPS]
        mixed = {**reduced, Dataset.LAPS: pa.concat_tables([reduced[Dataset.LAPS], other_laps])}
        mixed_run = _land_run(landing, SESSION, mixed, complete.created_at + dt.timedelta(hours=3))
        manifest = Manifest.from_json(s3.get_object(Bucket=bucket, Key=manifest_key(mixed_run))["Body"].read())
        _snowpipe(landing, [*(f.key for f in manifest.files), manifest_key(mixed_run)], work)
        steps.append(_step(landing, work, "later run with another session's laps", mixed_run))
        with DuckDBWarehouse.open(work / "loader-mode.duckdb") as warehouse:
            report = load_keys([manifest_key(mixed_run)], s3=s3, bucket=bucket, warehouse=warehouse)
        mixed_laps = next(f.key for f in manifest.files if f.dataset is Dataset.LAPS)
        yield Landed(landing, work, steps, other.run_id, mixed_laps, report)


def test_the_facts_hold_only_the_latest_complete_run_while_staging_holds_every_run(landed: Landed) -> None:
    first, crashed, waiting, done, _ = landed.steps
    assert len(first.staged_runs) == 1 and first.laps > 1000 and first.dropped > 0
    assert len(crashed.staged_runs) == 2, "the crashed run's laps are in staging (no manifest gate in this mode)"
    assert len(waiting.staged_runs) == 2, "the later run's laps have not arrived"
    assert len(done.staged_runs) == 3
    for step in landed.steps:
        assert step.fact_runs == {step.current_run}, f"{step.name}: the facts hold {step.fact_runs}"
    assert crashed.laps == waiting.laps == first.laps, "the first complete run's laps, whole"
    assert done.dropped == 0 and 0 < done.laps < first.laps, "the later run's laps, without the dropped driver"


def test_the_dbt_test_passes_after_every_step(landed: Landed) -> None:
    assert {step.name: step.dbt_test for step in landed.steps} == {step.name: None for step in landed.steps}


def test_the_incremental_facts_equal_a_full_rebuild(landed: Landed) -> None:
    full = landed.work / "full.duckdb"
    shutil.copyfile(landed.landing.path, full)
    run_dbt([*RUN, "--full-refresh"], warehouse_path=full, artifacts_dir=landed.work / "full")
    run_dbt(TEST, warehouse_path=full, artifacts_dir=landed.work / "full")
    assert_equal_to_full_rebuild(landed.landing.path, full)


def test_a_files_rows_of_another_session_never_reach_that_sessions_facts(landed: Landed) -> None:
    from loader.loading import Outcome

    *_, done, mixed = landed.steps
    assert {step.name: step.other_fact_runs for step in landed.steps} == {
        step.name: {landed.other_run} for step in landed.steps
    }
    assert mixed.fact_runs == {mixed.current_run} and mixed.laps == done.laps, "SESSION's own laps of the run, whole"
    report = {result.key: result for result in landed.loader.results}
    assert report[landed.mixed_laps_key].outcome is Outcome.QUARANTINED
    assert "rows have a round other than their key's 1" in report[landed.mixed_laps_key].detail
    assert {r.outcome for k, r in report.items() if k != landed.mixed_laps_key} == {Outcome.LOADED}
