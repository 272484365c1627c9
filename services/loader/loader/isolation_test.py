"""Hostile input and faults at the loader's writes (DuckDB, moto S3, the real Ergast dump): names from data never
become SQL unchecked, each file succeeds or is quarantined on its own, a file is claimed once, a failed
COMMIT raises its own error."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from f1common.datasets import Dataset, dataset_spec
from f1common.duckdb_testing import CommitFails
from f1common.tables import to_parquet_bytes
from loader.conftest import (
    BUCKET,
    HOSTILE_NAMES,
    SMALL,
    Run,
    check_the_claim_refuses_a_file_loaded_meanwhile,
    landed_file,
    with_column,
)
from loader.duckdb_warehouse import DuckDBWarehouse
from loader.loading import AlreadyProcessed, LoadIncomplete, Outcome, load_keys


def _history(wh: DuckDBWarehouse) -> dict[str, int]:
    return dict(wh.con.execute("SELECT file_name, rows FROM staging.load_history").fetchall())


def _quarantine(wh: DuckDBWarehouse) -> dict[str, str]:
    return dict(wh.con.execute("SELECT file_name, error FROM staging.load_quarantine").fetchall())


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_file_with_a_hostile_column_name_is_quarantined_and_its_run_loads(
    s3: Any, warehouse: DuckDBWarehouse, ergast_tables: dict[Dataset, pa.Table], name: str
) -> None:
    earlier = Run()
    earlier.add(Dataset.ERGAST_STATUS, ergast_tables[Dataset.ERGAST_STATUS])
    earlier.land(s3)
    load_keys([earlier.manifest_key], s3=s3, bucket=BUCKET, warehouse=warehouse)
    before = _history(warehouse)

    run = Run()  # the hostile file first in its manifest, a good one after it
    hostile = run.add(Dataset.ERGAST_CIRCUITS, with_column(ergast_tables[Dataset.ERGAST_CIRCUITS], name))
    good = run.add(Dataset.ERGAST_CONSTRUCTORS, ergast_tables[Dataset.ERGAST_CONSTRUCTORS])
    run.land(s3)

    report = load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=warehouse)

    assert report.keys(Outcome.QUARANTINED) == [hostile] and report.keys(Outcome.LOADED) == [good]
    assert "column name refused" in _quarantine(warehouse)[hostile]
    assert len(_quarantine(warehouse)[hostile]) < 300  # a bounded quote of the name
    assert _history(warehouse) == {**before, good: ergast_tables[Dataset.ERGAST_CONSTRUCTORS].num_rows}
    status = ergast_tables[Dataset.ERGAST_STATUS].num_rows
    assert warehouse.staging_rows(dataset_spec(Dataset.ERGAST_STATUS)) == status
    assert warehouse.staging_rows(dataset_spec(Dataset.ERGAST_CIRCUITS)) == 0
    columns = [r[0] for r in warehouse.con.execute("DESCRIBE staging.ergast_circuits_staging").fetchall()]
    assert name not in columns and name.lower() not in columns


def test_a_safe_new_column_that_is_a_keyword_is_quoted_and_loads(
    s3: Any, warehouse: DuckDBWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    run = Run()
    key = run.add(Dataset.ERGAST_STATUS, with_column(ergast_tables[Dataset.ERGAST_STATUS], "select"))
    run.land(s3)
    report = load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=warehouse)
    assert report.keys(Outcome.LOADED) == [key]
    assert warehouse.con.execute('SELECT DISTINCT "select" FROM staging.ergast_status_staging').fetchall() == [("x",)]


def test_a_manifest_whose_body_names_another_run_is_refused_with_its_files(
    s3: Any, warehouse: DuckDBWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    victim, other = Run(), Run()
    victim_key = victim.add(Dataset.ERGAST_STATUS, ergast_tables[Dataset.ERGAST_STATUS])
    other.add(Dataset.ERGAST_CIRCUITS, ergast_tables[Dataset.ERGAST_CIRCUITS])
    victim.put_files(s3)
    other.put_files(s3)
    s3.put_object(Bucket=BUCKET, Key=victim.manifest_key, Body=other.manifest.to_json())  # the other run's body

    report = load_keys([victim.manifest_key, victim_key], s3=s3, bucket=BUCKET, warehouse=warehouse)

    assert report.keys(Outcome.QUARANTINED) == [victim.manifest_key, victim_key]
    errors = _quarantine(warehouse)
    assert f"names another run: {other.run_id}" in errors[victim.manifest_key]
    assert "its manifest is invalid" in errors[victim_key]
    assert _history(warehouse) == {}  # the other run's files did not load through the wrong manifest


def test_keys_off_the_layout_are_recorded_and_counted_as_ignored(s3: Any, warehouse: DuckDBWarehouse) -> None:
    keys = [
        "dataset=laps/notes.txt",
        "dataset=laps/x'); DELETE FROM staging.load_history; --.parquet",
        "manifests/latest.json",
    ]
    for _ in range(2):  # a redelivery records nothing twice
        report = load_keys(keys, s3=s3, bucket=BUCKET, warehouse=warehouse)
        assert report.keys(Outcome.IGNORED) == keys and report.counts["ignored"] == 3
    errors = _quarantine(warehouse)
    assert sorted(errors) == sorted(keys)
    assert all("off the landing layout" in e for e in errors.values())


class _FlakyS3:
    """S3 whose GetObject of one key fails as a throttled request does (not a missing object)."""

    def __init__(self, s3: Any, key: str) -> None:
        self._s3, self.key = s3, key

    def get_object(self, **kwargs: Any) -> Any:
        if kwargs["Key"] == self.key:
            raise self._s3.exceptions.ClientError({"Error": {"Code": "SlowDown", "Message": "injected"}}, "GetObject")
        return self._s3.get_object(**kwargs)


def test_an_unexpected_error_on_one_entry_leaves_the_others_to_load_and_is_raised(
    s3: Any, warehouse: DuckDBWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    run = Run()
    keys = [run.add(d, ergast_tables[d]) for d in SMALL]
    run.land(s3)

    with pytest.raises(LoadIncomplete) as failed:
        load_keys([run.manifest_key], s3=_FlakyS3(s3, keys[0]), bucket=BUCKET, warehouse=warehouse)

    assert list(failed.value.failed) == [keys[0]] and "SlowDown" in failed.value.failed[keys[0]]
    assert failed.value.report.keys(Outcome.LOADED) == keys[1:]
    assert sorted(_history(warehouse)) == sorted(keys[1:]) and _quarantine(warehouse) == {}

    retry = load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=warehouse)  # the message's redelivery
    assert retry.keys(Outcome.LOADED) == keys[:1] and retry.keys(Outcome.SKIPPED) == keys[1:]
    assert _history(warehouse) == {e.key: e.rows for e in run.manifest.files}


def test_the_claim_refuses_a_file_loaded_or_quarantined_meanwhile(
    s3: Any, warehouse: DuckDBWarehouse, tmp_path: Path, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    key, rows = check_the_claim_refuses_a_file_loaded_meanwhile(
        s3, warehouse, ergast_tables[Dataset.ERGAST_STATUS], tmp_path
    )
    assert _history(warehouse) == {key: rows} and _quarantine(warehouse) == {}


def test_concurrent_deliveries_of_one_manifest_load_each_file_once_and_quarantine_nothing_false(
    s3: Any, tmp_path: Path, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    run = Run.of(ergast_tables)
    status = ergast_tables[Dataset.ERGAST_RESULTS]
    bad = run.add(Dataset.ERGAST_RESULTS, data=to_parquet_bytes(status)[:1000], rows=status.num_rows)
    run.land(s3)
    path = tmp_path / "concurrent.duckdb"
    DuckDBWarehouse.open(path).close()
    threads = 6
    start = threading.Barrier(threads)

    def deliver(_: int) -> Any:
        with DuckDBWarehouse.open(path) as wh:  # one connection per Lambda
            start.wait()
            return load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=wh)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        reports = list(pool.map(deliver, range(threads)))

    loaded = [k for r in reports for k in r.keys(Outcome.LOADED)]
    quarantined = [k for r in reports for k in r.keys(Outcome.QUARANTINED)]
    assert sorted(loaded) == sorted(k for k in run.keys if k != bad)  # each good file by one delivery
    assert quarantined == [bad]
    assert all(r.counts["loaded"] + r.counts["quarantined"] + r.counts["skipped"] == len(run.keys) for r in reports)
    with DuckDBWarehouse.open(path) as wh:
        assert _history(wh) == {e.key: e.rows for e in run.manifest.files if e.key != bad}
        assert list(_quarantine(wh)) == [bad]
        for entry in run.manifest.files:
            assert wh.staging_rows(dataset_spec(entry.dataset)) == (0 if entry.key == bad else entry.rows)


class _PausedAtCommit:
    """A DuckDB connection whose COMMIT waits for `resume` (signalling `at_commit`): a winner caught mid-claim."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con, self.at_commit, self.resume = con, threading.Event(), threading.Event()

    def commit(self) -> None:
        self.at_commit.set()
        assert self.resume.wait(30)
        self._con.commit()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


class _KeyMeetsCommittingWinner:
    """A DuckDB connection whose INSERT into `table` fails as DuckDB fails it while another transaction's COMMIT
    of the same key is under way: the key is in the index, the winner's rows are not visible yet."""

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str) -> None:
        self._con, self._insert = con, f"INSERT INTO staging.{table} "

    def execute(self, sql: str, params: Any = None) -> Any:
        if sql.startswith(self._insert):
            raise duckdb.ConstraintException(f'Duplicate key "key: {params[0]}" violates primary key constraint.')
        return self._con.execute(sql, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def test_a_load_and_a_quarantine_of_one_file_at_once_leave_one_outcome(
    s3: Any, tmp_path: Path, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    """The interleaving: the loading transaction has claimed the file and waits at its COMMIT when a concurrent
    delivery that chose to quarantine the file commits its claim; the load then loses (one key for both)."""
    status = ergast_tables[Dataset.ERGAST_STATUS]
    run = Run()
    key = run.add(Dataset.ERGAST_STATUS, status)
    spec = dataset_spec(Dataset.ERGAST_STATUS)
    path = tmp_path / "race.duckdb"
    with DuckDBWarehouse.open(path) as winner, DuckDBWarehouse.open(path) as other:
        paused = _PausedAtCommit(winner.con)
        winner.con = paused  # type: ignore[assignment]
        with ThreadPoolExecutor(max_workers=1) as pool:
            landed = landed_file(status, tmp_path)
            load = pool.submit(winner.load_file, spec, landed, key=key, run_id=run.run_id, new_columns=[])
            assert paused.at_commit.wait(30)  # claimed, rows inserted, not committed
            other.quarantine(key, run_id=run.run_id, dataset=spec.name, error="refused by a concurrent delivery")
            paused.resume.set()
            with pytest.raises(AlreadyProcessed, match="already quarantined"):
                load.result(30)
        winner.con = paused._con
        assert _history(other) == {} and list(_quarantine(other)) == [key]
        assert other.staging_rows(spec) == 0


def test_a_claim_that_meets_a_committing_winner_is_skipped_not_quarantined(
    s3: Any, tmp_path: Path, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    """The interleaving of the six-delivery flake: a loser's claim INSERT fails on the key while the winner's
    COMMIT is under way, so the loser finds no trace of the winner. It skips the file (a lost claim is never a
    data error) and writes no quarantine row; the winner's load stands."""
    status = ergast_tables[Dataset.ERGAST_STATUS]
    run = Run()
    key = run.add(Dataset.ERGAST_STATUS, status)
    run.land(s3)
    path = tmp_path / "race.duckdb"
    with DuckDBWarehouse.open(path) as winner, DuckDBWarehouse.open(path) as loser:
        paused = _PausedAtCommit(winner.con)
        winner.con = paused  # type: ignore[assignment]
        loser.con = _KeyMeetsCommittingWinner(loser.con, "load_claims")  # type: ignore[assignment]
        with ThreadPoolExecutor(max_workers=1) as pool:
            load = pool.submit(load_keys, [run.manifest_key], s3=s3, bucket=BUCKET, warehouse=winner)
            assert paused.at_commit.wait(30)
            report = load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=loser)
            paused.resume.set()
            won = load.result(30)
        assert report.keys(Outcome.SKIPPED) == [key] and "claimed" in report.results[0].detail
        assert won.keys(Outcome.LOADED) == [key]
        assert _history(winner) == {key: status.num_rows} and _quarantine(winner) == {}


def test_a_manifest_record_that_meets_a_committing_winner_is_no_failure(
    s3: Any, warehouse: DuckDBWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    """Two deliveries of one manifest: the one whose manifest INSERT collides with the other's COMMIT (the row
    not visible yet) goes on to load the run's files instead of failing the message."""
    run = Run()
    key = run.add(Dataset.ERGAST_STATUS, ergast_tables[Dataset.ERGAST_STATUS])
    run.land(s3)
    real = warehouse.con
    warehouse.con = _KeyMeetsCommittingWinner(real, "load_manifests")  # type: ignore[assignment]
    report = load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=warehouse)
    warehouse.con = real
    assert report.keys(Outcome.LOADED) == [key]


def test_a_failed_commit_raises_its_own_error_writes_nothing_and_the_retry_loads(
    s3: Any, warehouse: DuckDBWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    run = Run()
    key = run.add(Dataset.ERGAST_STATUS, ergast_tables[Dataset.ERGAST_STATUS])
    run.land(s3)
    real = warehouse.con
    warehouse.con = CommitFails(real)  # type: ignore[assignment]

    with pytest.raises(LoadIncomplete) as failed:
        load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=warehouse)

    error = failed.value.failed[key]
    assert "injected: COMMIT failed" in error and "no transaction is active" not in error
    warehouse.con = real
    assert _history(warehouse) == {} and _quarantine(warehouse) == {}
    assert warehouse.staging_rows(dataset_spec(Dataset.ERGAST_STATUS)) == 0
    retry = load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=warehouse)
    assert retry.keys(Outcome.LOADED) == [key] and _history(warehouse) == {key: run.manifest.files[0].rows}
