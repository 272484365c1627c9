"""Snowpipe semantics into DuckDB, on files landed from the real Ergast dump."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from f1common.datasets import Dataset, dataset_spec
from f1common.layout import data_key
from f1common.tables import to_parquet_bytes
from loader.conftest import BUCKET, SMALL, Run, check_a_late_delivery_leaves_no_pending_row, check_streamed_order
from loader.duckdb_warehouse import DuckDBWarehouse
from loader.loading import REASON_LIMIT, FileRejected, Outcome, backfill_manifests, load_keys


def _history(wh: DuckDBWarehouse) -> dict[str, int]:
    return dict(wh.con.execute("SELECT file_name, rows FROM staging.load_history").fetchall())


def _quarantine(wh: DuckDBWarehouse) -> dict[str, str]:
    return dict(wh.con.execute("SELECT file_name, error FROM staging.load_quarantine").fetchall())


def test_loads_every_ergast_dataset_with_manifest_counts(
    s3: Any, warehouse: DuckDBWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    run = Run.of(ergast_tables, list(ergast_tables))
    run.land(s3)

    report = load_keys([*run.keys, run.manifest_key], s3=s3, bucket=BUCKET, warehouse=warehouse)

    assert report.counts["loaded"] == len(ergast_tables) and report.counts["quarantined"] == 0
    for entry in run.manifest.files:
        assert warehouse.staging_rows(dataset_spec(entry.dataset), entry.key) == entry.rows
        assert warehouse.staging_rows(dataset_spec(entry.dataset)) == entry.rows
    assert _history(warehouse) == {e.key: e.rows for e in run.manifest.files}
    # real values survive the trip, with their load metadata
    row = warehouse.con.execute(
        "SELECT code, forename, surname, dob, _file_name, _run_id, _row_number, _load_time "
        "FROM staging.ergast_drivers_staging WHERE driver_ref = 'hamilton'"
    ).fetchone()
    assert row is not None
    assert row[:4] == ("HAM", "Lewis", "Hamilton", dt.date(1985, 1, 7))
    assert row[4] == data_key(Dataset.ERGAST_DRIVERS, run.run_id) and row[5] == run.run_id
    drivers = ergast_tables[Dataset.ERGAST_DRIVERS]
    assert row[6] == drivers.column("driver_ref").to_pylist().index("hamilton") + 1
    assert row[7].utcoffset() == dt.timedelta(0)
    numbers = warehouse.con.execute(
        "SELECT min(_row_number), max(_row_number), count(DISTINCT _row_number) FROM staging.ergast_results_staging"
    ).fetchone()
    n = ergast_tables[Dataset.ERGAST_RESULTS].num_rows
    assert numbers == (1, n, n)
    assert warehouse.con.execute("SELECT count(*) FROM staging.load_pending").fetchone() == (0,)


def test_reload_and_duplicate_keys_add_no_rows(
    s3: Any, warehouse: DuckDBWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    run = Run.of(ergast_tables)
    run.land(s3)
    first = load_keys([run.manifest_key, *run.keys, run.manifest_key], s3=s3, bucket=BUCKET, warehouse=warehouse)
    assert first.counts["loaded"] == 3

    again = load_keys([*run.keys, run.manifest_key, *run.keys], s3=s3, bucket=BUCKET, warehouse=warehouse)

    assert again.counts["loaded"] == 0 and again.rows_loaded == 0
    assert set(again.keys(Outcome.SKIPPED)) == set(run.keys)
    for entry in run.manifest.files:
        assert warehouse.staging_rows(dataset_spec(entry.dataset)) == entry.rows


def test_every_manifest_is_recorded_once_with_its_files(
    s3: Any, warehouse: DuckDBWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    run = Run.of(ergast_tables)
    run.land(s3)
    load_keys([run.keys[0], run.manifest_key, *run.keys, run.manifest_key], s3=s3, bucket=BUCKET, warehouse=warehouse)
    load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=warehouse)

    rows = warehouse.con.execute(
        "SELECT run_id, source, season, manifest_key, files FROM staging.load_manifests"
    ).fetchall()
    assert [r[:4] for r in rows] == [(run.run_id, "ergast", None, run.manifest_key)]
    files = json.loads(rows[0][4])
    assert [(f["dataset"], f["key"], f["rows"]) for f in files] == [
        (e.dataset.value, e.key, e.rows) for e in run.manifest.files
    ]


def test_the_messages_of_one_batch_record_their_run_manifest_once(
    s3: Any, warehouse: DuckDBWarehouse, ergast_tables: dict[Dataset, pa.Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a batch's messages share one manifest cache (consumer.load_batch): each of the run's files and its manifest
    # arrive in a message of their own, and the run's manifest is written to the warehouse once, not per file
    run = Run.of(ergast_tables)
    run.land(s3)
    recorded: list[str] = []
    record = warehouse.record_manifest

    def counted(manifest: Any, *, key: str) -> None:
        recorded.append(key)
        record(manifest, key=key)

    monkeypatch.setattr(warehouse, "record_manifest", counted)
    batch: dict[str, Any] = {}

    reports = [
        load_keys([key], s3=s3, bucket=BUCKET, warehouse=warehouse, manifests=batch)
        for key in [*run.keys, run.manifest_key]
    ]

    assert recorded == [run.manifest_key]
    assert sum(r.counts["loaded"] for r in reports) == len(run.keys)
    assert warehouse.con.execute("SELECT run_id FROM staging.load_manifests").fetchall() == [(run.run_id,)]


def test_a_warehouse_loaded_before_load_manifests_gets_its_manifests_on_the_first_load(
    s3: Any, tmp_path: Any, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    # a warehouse of the previous version: staging rows and load history, no load_manifests table
    old, gone, bad = (Run.of(ergast_tables, [d]) for d in SMALL)
    path = tmp_path / "old.duckdb"
    with DuckDBWarehouse.open(path) as wh:
        for run in (old, gone, bad):
            run.land(s3)
            load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=wh)
        wh.con.execute("DROP TABLE staging.load_manifests")
    s3.delete_object(Bucket=BUCKET, Key=gone.manifest_key)  # a manifest no longer in the bucket
    s3.put_object(Bucket=BUCKET, Key=bad.manifest_key, Body=b"{not json")
    new = Run.of(ergast_tables, [Dataset.ERGAST_DRIVERS])
    new.land(s3)

    with DuckDBWarehouse.open(path) as wh:  # the upgraded loader: the table is created empty
        assert wh.runs_without_manifest() == sorted([old.run_id, gone.run_id, bad.run_id])
        report = load_keys([new.manifest_key], s3=s3, bucket=BUCKET, warehouse=wh)
        manifests = dict(wh.con.execute("SELECT run_id, manifest_key FROM staging.load_manifests").fetchall())
        assert report.counts["loaded"] == 1
        assert manifests == {old.run_id: old.manifest_key, new.run_id: new.manifest_key}
        assert wh.runs_without_manifest() == sorted([gone.run_id, bad.run_id])
        # the gone and the invalid manifest stay missing; trying again changes nothing
        assert backfill_manifests(s3=s3, bucket=BUCKET, warehouse=wh) == []
        [(files,)] = wh.con.execute(
            "SELECT files FROM staging.load_manifests WHERE run_id = $1", [old.run_id]
        ).fetchall()
        assert [f["key"] for f in json.loads(files)] == old.keys


def test_files_before_their_manifest_are_held_back(
    s3: Any, warehouse: DuckDBWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    run = Run.of(ergast_tables)
    run.put_files(s3)

    early = load_keys(run.keys, s3=s3, bucket=BUCKET, warehouse=warehouse)

    assert early.keys(Outcome.PENDING) == run.keys
    pending = warehouse.con.execute("SELECT file_name, run_id FROM staging.load_pending ORDER BY 1").fetchall()
    assert pending == sorted((k, run.run_id) for k in run.keys)
    assert all(warehouse.staging_rows(dataset_spec(d)) == 0 for d in SMALL)

    run.put_manifest(s3)
    late = load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=warehouse)

    assert sorted(late.keys(Outcome.LOADED)) == sorted(run.keys)
    for entry in run.manifest.files:
        assert warehouse.staging_rows(dataset_spec(entry.dataset)) == entry.rows
    assert warehouse.con.execute("SELECT count(*) FROM staging.load_pending").fetchone() == (0,)


def test_a_late_delivery_leaves_no_pending_row_beside_the_load(
    s3: Any, warehouse: DuckDBWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    check_a_late_delivery_leaves_no_pending_row(s3, warehouse, Run.of(ergast_tables), "staging.load_pending")


def test_manifest_before_a_file_loads_it_when_it_arrives(
    s3: Any, warehouse: DuckDBWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    run = Run.of(ergast_tables)
    late_key = run.keys[0]
    run.put_files(s3, run.keys[1:])
    run.put_manifest(s3)

    first = load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=warehouse)
    assert first.keys(Outcome.PENDING) == [late_key] and len(first.keys(Outcome.LOADED)) == 2

    run.put_files(s3, [late_key])
    second = load_keys([late_key], s3=s3, bucket=BUCKET, warehouse=warehouse)

    assert second.keys(Outcome.LOADED) == [late_key]
    for entry in run.manifest.files:
        assert warehouse.staging_rows(dataset_spec(entry.dataset)) == entry.rows


def test_bad_files_are_quarantined_whole_while_the_others_load(
    s3: Any, warehouse: DuckDBWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    status = ergast_tables[Dataset.ERGAST_STATUS]
    circuits = ergast_tables[Dataset.ERGAST_CIRCUITS]
    races = ergast_tables[Dataset.ERGAST_RACES]
    drivers = ergast_tables[Dataset.ERGAST_DRIVERS]
    results = ergast_tables[Dataset.ERGAST_RESULTS]
    pits = ergast_tables[Dataset.ERGAST_PIT_STOPS]
    quali = ergast_tables[Dataset.ERGAST_QUALIFYING]
    run = Run()
    good = run.add(Dataset.ERGAST_CONSTRUCTORS, ergast_tables[Dataset.ERGAST_CONSTRUCTORS])
    corrupt = run.add(Dataset.ERGAST_STATUS, data=to_parquet_bytes(status)[:-200] + b"\0" * 200, rows=status.num_rows)
    missing = run.add(Dataset.ERGAST_CIRCUITS, circuits.drop_columns(["lat"]))
    renamed = run.add(Dataset.ERGAST_RACES, races.rename_columns(["race_id", "season", *races.column_names[2:]]))
    wrong_type = run.add(
        Dataset.ERGAST_DRIVERS,
        drivers.set_column(drivers.column_names.index("dob"), "dob", pc.cast(drivers.column("dob"), pa.string())),
    )
    wrong_rows = run.add(Dataset.ERGAST_RESULTS, results, rows=results.num_rows + 1)
    nulls = run.add(
        Dataset.ERGAST_PIT_STOPS,
        pits.set_column(
            pits.column_names.index("stop"),
            pa.field("stop", pa.int64()),
            pa.array([None] + pits.column("stop").to_pylist()[1:], pa.int64()),
        ),
    )
    overwritten = run.add(Dataset.ERGAST_QUALIFYING, quali)
    tampered = run.add(Dataset.ERGAST_SPRINT_RESULTS, ergast_tables[Dataset.ERGAST_SPRINT_RESULTS])
    run.land(s3)
    s3.put_object(Bucket=BUCKET, Key=overwritten, Body=to_parquet_bytes(quali.slice(0, 10)))
    flipped = bytearray(run.files[tampered])
    flipped[len(flipped) // 2] ^= 0xFF
    s3.put_object(Bucket=BUCKET, Key=tampered, Body=bytes(flipped))

    report = load_keys([*run.keys, run.manifest_key], s3=s3, bucket=BUCKET, warehouse=warehouse)

    assert report.keys(Outcome.LOADED) == [good]
    errors = _quarantine(warehouse)
    assert set(errors) == {corrupt, missing, renamed, wrong_type, wrong_rows, nulls, overwritten, tampered}
    assert "not a readable Parquet file" in errors[corrupt]
    assert "missing columns ['lat']" in errors[missing]
    assert "missing columns ['year']" in errors[renamed] and "unexpected columns ['season']" in errors[renamed]
    assert "column 'dob' is string, expected date32" in errors[wrong_type]
    assert f"file has {results.num_rows} rows, manifest says {results.num_rows + 1}" in errors[wrong_rows]
    assert "column 'stop' is not nullable but has 1 nulls" in errors[nulls]
    assert f"manifest says {len(run.files[overwritten])}" in errors[overwritten]
    assert "does not match the manifest" in errors[tampered]
    for d in (
        Dataset.ERGAST_STATUS,
        Dataset.ERGAST_CIRCUITS,
        Dataset.ERGAST_RACES,
        Dataset.ERGAST_DRIVERS,
        Dataset.ERGAST_RESULTS,
        Dataset.ERGAST_PIT_STOPS,
        Dataset.ERGAST_QUALIFYING,
        Dataset.ERGAST_SPRINT_RESULTS,
    ):
        assert warehouse.staging_rows(dataset_spec(d)) == 0, d
    assert _history(warehouse) == {good: ergast_tables[Dataset.ERGAST_CONSTRUCTORS].num_rows}

    # a repeated notification neither reloads nor re-quarantines
    again = load_keys([corrupt, run.manifest_key], s3=s3, bucket=BUCKET, warehouse=warehouse)
    assert again.counts["quarantined"] == 0 and again.counts["loaded"] == 0
    assert warehouse.con.execute("SELECT count(*) FROM staging.load_quarantine").fetchone() == (8,)


def test_file_missing_from_its_completed_manifest_is_quarantined(
    s3: Any, warehouse: DuckDBWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    run = Run.of(ergast_tables, [Dataset.ERGAST_STATUS])
    run.land(s3)
    stray = data_key(Dataset.ERGAST_CIRCUITS, run.run_id)
    s3.put_object(Bucket=BUCKET, Key=stray, Body=to_parquet_bytes(ergast_tables[Dataset.ERGAST_CIRCUITS]))

    report = load_keys([stray, *run.keys], s3=s3, bucket=BUCKET, warehouse=warehouse)

    assert report.keys(Outcome.QUARANTINED) == [stray]
    assert f"not listed in the manifest of run {run.run_id}" in _quarantine(warehouse)[stray]
    assert warehouse.staging_rows(dataset_spec(Dataset.ERGAST_CIRCUITS)) == 0
    assert warehouse.staging_rows(dataset_spec(Dataset.ERGAST_STATUS)) == ergast_tables[Dataset.ERGAST_STATUS].num_rows


def test_invalid_manifest_and_foreign_keys(
    s3: Any, warehouse: DuckDBWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    run = Run.of(ergast_tables, [Dataset.ERGAST_STATUS])
    run.put_files(s3)
    s3.put_object(Bucket=BUCKET, Key=run.manifest_key, Body=b'{"run_id": "nope"}')

    report = load_keys([run.manifest_key, *run.keys, "notes/readme.txt"], s3=s3, bucket=BUCKET, warehouse=warehouse)

    errors = _quarantine(warehouse)
    assert "invalid manifest" in errors[run.manifest_key]
    assert "its manifest is invalid" in errors[run.keys[0]]
    assert report.keys(Outcome.IGNORED) == ["notes/readme.txt"]
    assert warehouse.staging_rows(dataset_spec(Dataset.ERGAST_STATUS)) == 0


def test_additive_column_is_added_and_loaded(
    s3: Any, warehouse: DuckDBWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    status = ergast_tables[Dataset.ERGAST_STATUS]
    notes = [f"note {i}" if i % 2 else None for i in range(status.num_rows)]
    drifted = status.append_column(pa.field("note", pa.string(), nullable=True), pa.array(notes, pa.string()))
    first = Run()
    first.add(Dataset.ERGAST_STATUS, drifted)
    first.land(s3)
    second = Run.of(ergast_tables, [Dataset.ERGAST_STATUS])  # a later run back on the declared schema
    second.land(s3)

    report = load_keys([first.manifest_key, second.manifest_key], s3=s3, bucket=BUCKET, warehouse=warehouse)

    assert report.counts["loaded"] == 2 and "added columns ['note']" in report.results[0].detail
    loaded = warehouse.con.execute(
        "SELECT note FROM staging.ergast_status_staging WHERE _run_id = $1 ORDER BY _row_number", [first.run_id]
    ).fetchall()
    assert [r[0] for r in loaded] == notes
    assert warehouse.con.execute(
        "SELECT count(*), count(note) FROM staging.ergast_status_staging WHERE _run_id = $1", [second.run_id]
    ).fetchone() == (status.num_rows, 0)


def test_rows_the_warehouse_refuses_are_quarantined_with_a_bounded_reason(
    s3: Any, warehouse: DuckDBWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    """A later run's `note` is a string where an earlier run added it as an integer: the INSERT fails, and
    DuckDB's error quotes the value (here 1 MB). The file is quarantined with the reason's start, not the value."""
    status = ergast_tables[Dataset.ERGAST_STATUS]
    first, second = Run(), Run()
    first.add(Dataset.ERGAST_STATUS, status.append_column("note", pa.array(range(status.num_rows), pa.int64())))
    first.land(s3)
    huge = ["x" * 1_000_000] + [None] * (status.num_rows - 1)
    key = second.add(Dataset.ERGAST_STATUS, status.append_column("note", pa.array(huge, pa.string())))
    second.land(s3)

    report = load_keys([first.manifest_key, second.manifest_key], s3=s3, bucket=BUCKET, warehouse=warehouse)

    assert report.keys(Outcome.QUARANTINED) == [key]
    reason = _quarantine(warehouse)[key]
    assert reason.startswith("DuckDB refused the rows of ergast_status: ") and "chars)" in reason
    assert len(reason) < 500  # the database's message, cut where the warehouse raises it


def test_any_refusal_is_stored_cut_to_the_reason_limit(
    s3: Any, warehouse: DuckDBWarehouse, ergast_tables: dict[Dataset, pa.Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever refuses a file, however long its message, the quarantine row keeps REASON_LIMIT of it."""

    def refuse(*args: Any, **kwargs: Any) -> int:
        raise FileRejected("y" * 1_000_000)

    monkeypatch.setattr(warehouse, "load_file", refuse)
    run = Run.of(ergast_tables, [Dataset.ERGAST_STATUS])
    run.land(s3)

    report = load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=warehouse)

    [key] = report.keys(Outcome.QUARANTINED)
    assert _quarantine(warehouse)[key] == "y" * REASON_LIMIT + "… (1000000 chars)"
    assert report.results[-1].detail == _quarantine(warehouse)[key]


def test_columns_named_like_load_metadata_are_refused(
    s3: Any, warehouse: DuckDBWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    status = ergast_tables[Dataset.ERGAST_STATUS]
    run = Run()
    key = run.add(Dataset.ERGAST_STATUS, status.append_column("_row_number", pa.array([7] * status.num_rows)))
    run.land(s3)

    report = load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=warehouse)

    assert report.keys(Outcome.QUARANTINED) == [key]
    assert "columns ['_row_number'] are reserved for load metadata" in _quarantine(warehouse)[key]
    assert warehouse.staging_rows(dataset_spec(Dataset.ERGAST_STATUS)) == 0


def test_a_file_streams_in_record_batches_and_keeps_every_row_in_place(
    s3: Any, warehouse: DuckDBWarehouse, ergast_tables: dict[Dataset, pa.Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    check_streamed_order(
        warehouse,
        "SELECT _row_number, result_id FROM staging.ergast_results_staging " "ORDER BY _row_number",
        ergast_tables,
        monkeypatch,
        s3,
    )
