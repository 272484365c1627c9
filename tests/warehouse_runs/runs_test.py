"""Facts are a function of the latest complete run of each session, whatever the order and timing of loads.

On real data landed by the project's ingestion: every landed file and manifest is loaded in a shuffled
order, in two batches whose load times go backwards (the second batch is stamped before the first, as
an overlapping COPY, a Snowpipe batch or a skewed clock would), with an incremental `dbt run` after each.
Between them a session is re-landed with fewer rows (a driver removed, its last laps cut, no weather), an
older run of it is landed late, and two runs that never complete are landed (a crashed run's files
without a manifest, a manifest whose file never arrives), and the warehouse is taken back to what a version
before `load_manifests` left (no manifests table, facts without `_input_version`): the loader backfills the
manifests at its next load. The incremental result must equal a full rebuild of the same staging data, and
both must hold exactly the current runs' rows.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from dbt_runner.runner import run_dbt
from f1common.datasets import Dataset
from f1common.layout import MANIFEST_PREFIX, data_key, is_manifest_key, manifest_key, new_run_id, parse_manifest_key
from f1common.manifest import Manifest
from f1common.settings import Settings
from f1common.tables import read_parquet_bytes
from f1common.testing import f1data_dir_or_skip
from f1common.warehouse import LOAD_MANIFESTS
from grandprix_local.harness import EmbeddedStack, embedded_stack

SESSIONS = ("2023-01-R", "2023-03-R", "2023-04-SS")
RELANDED = "2023-01-R"
DROPPED_DRIVER = "1"  # Verstappen leaves the re-landed run
KEPT_LAPS = 50
RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{8}")
# The session-incremental models and what they are compared on (everything but the build's own id).
COMPARED = ("stg_fastf1__laps", "stg_fastf1__results", "stg_fastf1__drivers", "stg_fastf1__weather",
            "stg_fastf1__race_control", "fct_laps", "fct_weather", "fct_race_control", "fct_race_results",
            "fct_pit_stops", "fct_stints", "fct_pit_losses", "mart_positions_by_lap", "mart_lap_weather",
            "mart_session_pace_weather", "mart_pace_changes", "dim_sessions", "mart_driver_standings",
            "mart_constructor_standings", "mart_pit_loss_by_circuit")  # fmt: skip
# dbt run without the snapshot-based model (dim_drivers: a table rebuilt whole every time); the seeds first.
RUN = ["run", "--exclude", "dim_drivers", "--quiet"]
SEED = ["seed", "--quiet"]


@dataclass
class Landed:
    landing: EmbeddedStack
    work: Path
    relanded_run: str
    relanded_laps: int
    late_old_run: str
    incomplete_runs: tuple[str, ...]
    backfilled_runs: tuple[str, ...]  # loaded before the warehouse had load_manifests

    def query(self, sql: str, path: Path | None = None) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(path or self.landing.path), read_only=True) as con:
            return con.execute(sql).fetchall()


def _current_tables(s3: Any, bucket: str, run_id: str) -> dict[Dataset, pa.Table]:
    manifest = Manifest.from_json(s3.get_object(Bucket=bucket, Key=manifest_key(run_id))["Body"].read())
    return {
        f.dataset: read_parquet_bytes(s3.get_object(Bucket=bucket, Key=f.key)["Body"].read()) for f in manifest.files
    }


def _land_run(
    landing: EmbeddedStack,
    session_key: str,
    tables: dict[Dataset, pa.Table],
    created_at: dt.datetime,
    *,
    missing: dict[Dataset, str] | None = None,
) -> str:
    from f1common.sessions import SessionId
    from ingestion.ingest import land_session
    from ingestion.normalize import SessionTables

    session = SessionTables(SessionId.parse(session_key), tables=tables, missing=missing or {})
    run_id = new_run_id(created_at)
    land_session(session, run_id, s3=landing.s3, bucket=landing.settings.bucket, created_at=created_at)
    return run_id


def _all_keys(landing: EmbeddedStack) -> list[str]:
    """Every landed data file and manifest, in an order that does not depend on the (random) run ids."""
    from ingestion.landing import list_keys

    keys = [k for k in list_keys(landing.s3, landing.settings.bucket) if not k.startswith("markers/")]
    return sorted(keys, key=lambda k: (RUN_ID.sub("", k), k))


def _session_manifest(landing: EmbeddedStack, session_key: str) -> Manifest:
    from ingestion.landing import list_keys

    for key in list_keys(landing.s3, landing.settings.bucket, MANIFEST_PREFIX):
        manifest = Manifest.from_json(landing.s3.get_object(Bucket=landing.settings.bucket, Key=key)["Body"].read())
        if manifest.session is not None and manifest.session.key == session_key:
            return manifest
    raise LookupError(f"no manifest of {session_key}")


def _load(
    landing: EmbeddedStack,
    keys: list[str],
    stamps: Iterator[dt.datetime],
    monkeypatch: pytest.MonkeyPatch,
    path: Path | None = None,
) -> None:
    """Loads `keys` in this order into the stack's warehouse (or the one at `path`), each file stamped with the
    next load time."""
    import loader.duckdb_warehouse as duckdb_warehouse
    from loader.loading import load_keys

    monkeypatch.setattr(duckdb_warehouse, "utc_now", lambda: next(stamps))
    with duckdb_warehouse.DuckDBWarehouse.open(path or landing.path) as warehouse:
        load_keys(keys, s3=landing.s3, bucket=landing.settings.bucket, warehouse=warehouse)
    monkeypatch.undo()


@contextlib.contextmanager
def sessions_landed(work: Path, settings: Settings) -> Iterator[EmbeddedStack]:
    """An in-process embedded stack under `work` with the Ergast history, the 2023 schedule and SESSIONS landed in
    S3 (nothing loaded yet)."""
    with embedded_stack(work, f1data_dir=settings.f1data_dir, in_process=True, notifications=False) as landing:
        landing.land_ergast()
        landing.land_schedules([2023])
        for session in SESSIONS:
            landing.land_session(session)
        yield landing


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Landed]:
    settings = Settings(f1data_dir=f1data_dir_or_skip())
    work = tmp_path_factory.mktemp("dbt-runs")
    monkeypatch = pytest.MonkeyPatch()
    rng = random.Random(14)
    with sessions_landed(work, settings) as landing:
        first = _all_keys(landing)
        rng.shuffle(first)
        base = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
        # batch 1: half of the keys, stamped at a late time
        _load(landing, first[: len(first) // 2], (base + dt.timedelta(seconds=i) for i in range(10**6)), monkeypatch)
        run_dbt(SEED, warehouse_path=landing.path, artifacts_dir=work)
        run_dbt(RUN, warehouse_path=landing.path, artifacts_dir=work)
        # the warehouse as a version before load_manifests left it: staging rows, no manifests, facts without
        # versions. The upgraded loader backfills the manifests at its first load (batch 2), dbt rebuilds.
        with duckdb.connect(str(landing.path)) as con:
            con.execute(f"drop table staging.{LOAD_MANIFESTS}")
            for (model,) in con.execute(
                "select table_name from information_schema.columns where "
                "table_schema = 'analytics' and column_name = '_input_version'"
            ).fetchall():
                con.execute(f'alter table analytics."{model}" drop column _input_version')
        backfilled = tuple(parse_manifest_key(k) for k in first[: len(first) // 2] if is_manifest_key(k))

        original = _session_manifest(landing, RELANDED)
        original_run, original_created = original.run_id, original.created_at
        tables = _current_tables(landing.s3, landing.settings.bucket, original_run)
        later = original_created + dt.timedelta(hours=2)
        reduced = {
            dataset: tables[dataset].filter(pc.not_equal(tables[dataset]["driver_number"], DROPPED_DRIVER))
            for dataset in (Dataset.LAPS, Dataset.RESULTS, Dataset.DRIVERS)
        }
        reduced[Dataset.LAPS] = reduced[Dataset.LAPS].filter(
            pc.less_equal(reduced[Dataset.LAPS]["lap_number"], KEPT_LAPS)
        )
        reduced[Dataset.RACE_CONTROL] = tables[Dataset.RACE_CONTROL]
        relanded = _land_run(landing, RELANDED, reduced, later, missing={Dataset.WEATHER: "no weather this time"})
        # an older run of the same session (written before the re-landed one), loaded after it
        late_old = _land_run(landing, RELANDED, tables, original_created + dt.timedelta(hours=1))
        # a run that crashed before its manifest (newest of all): its files alone
        crashed = new_run_id(later + dt.timedelta(hours=1))
        s3, bucket = landing.s3, landing.settings.bucket
        from f1common.sessions import SessionId
        from ingestion.landing import put_manifest, put_table

        session_id = SessionId.parse(RELANDED)
        put_table(
            s3,
            bucket,
            data_key(Dataset.LAPS, crashed, session=session_id),
            Dataset.LAPS,
            tables[Dataset.LAPS].slice(0, 10),
        )
        # a complete manifest whose laps file never arrives
        never = new_run_id(later + dt.timedelta(hours=2))
        entries = [
            put_table(s3, bucket, data_key(d, never, session=session_id), d, tables[d])
            for d in (Dataset.RESULTS, Dataset.DRIVERS)
        ]
        laps_entry = put_table(
            s3, bucket, data_key(Dataset.LAPS, never, session=session_id), Dataset.LAPS, tables[Dataset.LAPS]
        )
        s3.delete_object(Bucket=bucket, Key=laps_entry.key)
        from f1common.datasets import Source
        from f1common.names import SERVICE_INGESTION

        put_manifest(
            s3,
            bucket,
            Manifest(
                run_id=never,
                source=Source.FASTF1,
                session=session_id,
                created_at=later + dt.timedelta(hours=2),
                producer=SERVICE_INGESTION,
                files=[*entries, laps_entry],
            ),
        )

        # batch 2: the rest and the new runs, shuffled, stamped *before* batch 1 (load times go backwards);
        # the late older run's manifest comes last of all
        rest = [k for k in _all_keys(landing) if k not in set(first[: len(first) // 2])]
        rest.remove(manifest_key(late_old))
        rng.shuffle(rest)
        early = base - dt.timedelta(days=30)
        _load(
            landing,
            [*rest, manifest_key(late_old)],
            (early + dt.timedelta(seconds=i) for i in range(10**6)),
            monkeypatch,
        )
        run_dbt(RUN, warehouse_path=landing.path, artifacts_dir=work)
        yield Landed(landing, work, relanded, reduced[Dataset.LAPS].num_rows, late_old, (crashed, never), backfilled)


@pytest.fixture(scope="module")
def full_rebuild(landed: Landed) -> Path:
    """The same staging data in a copy of the warehouse, rebuilt with --full-refresh."""
    path = landed.work / "full.duckdb"
    shutil.copyfile(landed.landing.path, path)
    run_dbt([*RUN, "--full-refresh"], warehouse_path=path, artifacts_dir=landed.work / "full")
    return path


def assert_equal_to_full_rebuild(path: Path, full_rebuild: Path) -> None:
    """Each compared model of the warehouse at `path` has rows and equals the one in `full_rebuild` (every column
    but the build's own id)."""
    with duckdb.connect(str(path), read_only=True) as con:
        con.execute(f"attach '{full_rebuild}' as full_rebuild (read_only)")
        for model in COMPARED:
            columns = [
                r[0]
                for r in con.execute(
                    f"select column_name from information_schema.columns where table_schema = 'analytics' "
                    f"and table_name = '{model}' and table_catalog = 'warehouse' "
                    "and column_name <> '_dbt_invocation_id'"
                ).fetchall()
            ]
            cols = ", ".join(f'"{c}"' for c in columns)
            incremental = f"select {cols} from warehouse.analytics.{model}"
            full = f"select {cols} from full_rebuild.analytics.{model}"
            [(count,)] = con.execute(f"select count(*) from ({full})").fetchall()
            [(only_incremental,)] = con.execute(f"select count(*) from ({incremental} except all {full})").fetchall()
            [(only_full,)] = con.execute(f"select count(*) from ({full} except all {incremental})").fetchall()
            assert count > 0, model
            assert (only_incremental, only_full) == (0, 0), f"{model}: incremental and full rebuild differ"


def test_incremental_result_equals_a_full_rebuild(landed: Landed, full_rebuild: Path) -> None:
    assert_equal_to_full_rebuild(landed.landing.path, full_rebuild)


@pytest.mark.parametrize("which", ["incremental", "full"])
def test_the_relanded_session_holds_only_its_latest_complete_run(
    landed: Landed, full_rebuild: Path, which: str
) -> None:
    path = landed.landing.path if which == "incremental" else full_rebuild
    [(laps, runs, max_lap, dropped)] = landed.query(
        f"""
        select count(*), list(distinct _run_id), max(lap_number),
            count(*) filter (where driver_number = '{DROPPED_DRIVER}')
        from analytics.fct_laps where session_key = '{RELANDED}'""",
        path,
    )
    assert (laps, runs, max_lap, dropped) == (landed.relanded_laps, [landed.relanded_run], KEPT_LAPS, 0)
    [(weather,)] = landed.query(f"select count(*) from analytics.fct_weather where session_key = '{RELANDED}'", path)
    assert weather == 0, "the latest run has no weather: the old run's samples must go"
    [(fastf1_results,)] = landed.query(
        f"""select count(*) from analytics.fct_race_results
        where session_key = '{RELANDED}' and has_fastf1_result and driver_number = '{DROPPED_DRIVER}'""",
        path,
    )
    assert fastf1_results == 0
    [(positions,)] = landed.query(
        """select count(*) from analytics.mart_positions_by_lap
        where season = 2023 and round = 1 and session = 'R'""",
        path,
    )
    assert positions == landed.relanded_laps
    [(stint_laps, dropped_stints, last_lap)] = landed.query(
        f"""
        select sum(laps), count(*) filter (where driver_number = '{DROPPED_DRIVER}'), max(last_lap)
        from analytics.fct_stints where session_key = '{RELANDED}'""",
        path,
    )
    assert (stint_laps, dropped_stints, last_lap) == (landed.relanded_laps, 0, KEPT_LAPS)
    [(losses, dropped_losses, last_stop)] = landed.query(
        f"""
        select count(*), count(*) filter (where driver_number = '{DROPPED_DRIVER}'), max(lap_number)
        from analytics.fct_pit_losses where session_key = '{RELANDED}'""",
        path,
    )
    assert losses > 0 and dropped_losses == 0 and last_stop < KEPT_LAPS


def test_every_session_holds_its_current_runs_rows_and_no_other(landed: Landed) -> None:
    rows = landed.query(
        """
        select runs.session_key, runs.run_id, runs.laps_rows, count(laps.lap_id)
        from analytics.stg_landing__runs as runs
        left join analytics.fct_laps as laps on laps.session_key = runs.session_key and laps._run_id = runs.run_id
        where runs.is_current and runs.run_scope = 'session'
        group by all order by 1"""
    )
    assert [r[0] for r in rows] == sorted(SESSIONS)
    assert all(r[2] == r[3] > 0 for r in rows), rows
    [(other_runs,)] = landed.query(
        f"""select count(*) from analytics.fct_laps
        where _run_id in ('{landed.late_old_run}', '{landed.incomplete_runs[0]}', '{landed.incomplete_runs[1]}')"""
    )
    assert other_runs == 0
    complete = dict(landed.query("select run_id, is_complete from analytics.stg_landing__runs"))
    assert complete[landed.late_old_run] is True and complete[landed.incomplete_runs[1]] is False
    assert landed.incomplete_runs[0] not in complete, "a run without a manifest is not a run"


def test_a_warehouse_from_before_load_manifests_gets_every_loaded_runs_manifest(landed: Landed) -> None:
    assert landed.backfilled_runs
    recorded = {r[0] for r in landed.query("select run_id from staging.load_manifests")}
    loaded = {r[0] for r in landed.query("select distinct run_id from staging.load_history")}
    assert set(landed.backfilled_runs) <= recorded and loaded <= recorded
    [(unversioned,)] = landed.query("select count(*) from analytics.fct_laps where _input_version is null")
    assert unversioned == 0, "rows built before the upgrade are rebuilt"


def test_the_standings_recompute_only_the_season_of_a_new_run(
    landed: Landed, full_rebuild: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build with nothing new writes no standings row; a new run of one 2023 race rewrites 2023's standings
    (from its rounds) and no other season's of the 76, and they equal a full rebuild's. The pit loss by circuit
    (2023 only has FastF1 timing here) is rewritten the same way."""
    path = landed.work / "season-incremental.duckdb"
    shutil.copyfile(landed.landing.path, path)
    artifacts = landed.work / "season-incremental"
    standings = ("mart_driver_standings", "mart_constructor_standings")
    by_season = (*standings, "mart_pit_loss_by_circuit")

    def seasons_written(invocation: str) -> dict[str, set[int]]:
        with duckdb.connect(str(path), read_only=True) as con:
            return {
                m: {
                    r[0]
                    for r in con.execute(
                        f"select distinct season from analytics.{m} " "where _dbt_invocation_id = ?", [invocation]
                    ).fetchall()
                }
                for m in by_season
            }

    nothing = run_dbt(RUN, warehouse_path=path, artifacts_dir=artifacts)
    assert nothing.invocation_id is not None
    assert seasons_written(nothing.invocation_id) == {m: set() for m in by_season}

    tables = _current_tables(
        landed.landing.s3, landed.landing.settings.bucket, _session_manifest(landed.landing, "2023-03-R").run_id
    )
    new_run = _land_run(landed.landing, "2023-03-R", tables, dt.datetime(2031, 1, 1, tzinfo=dt.timezone.utc))
    keys = [k for k in _all_keys(landed.landing) if new_run in k]
    stamps = (dt.datetime(2031, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=i) for i in range(10**6))
    _load(landed.landing, keys, stamps, monkeypatch, path)
    build = run_dbt(RUN, warehouse_path=path, artifacts_dir=artifacts)

    assert build.invocation_id is not None
    assert seasons_written(build.invocation_id) == {m: {2023} for m in by_season}
    with duckdb.connect(str(path), read_only=True) as con:
        con.execute(f"attach '{full_rebuild}' as full_rebuild (read_only)")
        for model in standings:
            [(seasons,)] = con.execute(f"select count(distinct season) from analytics.{model}").fetchall()
            assert seasons > 60, model  # every season of the history is there, untouched
            columns = "season, round, position, cumulative_points, is_ranked, level_on_points"
            differ = con.execute(
                f"select count(*) from (select {columns} from analytics.{model} except all "
                f"select {columns} from full_rebuild.analytics.{model})"
            ).fetchall()
            assert differ == [(0,)], model
