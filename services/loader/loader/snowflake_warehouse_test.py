"""The Snowflake COPY path in-process against fakesnow: PUT + COPY, quarantine, additive drift, replays."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pyarrow as pa
import pytest

from f1common.datasets import Dataset, Source, dataset_spec
from f1common.layout import data_key, manifest_key, new_run_id
from f1common.manifest import Manifest, ManifestFile
from f1common.sessions import SessionId
from f1common.tables import to_parquet_bytes
from loader.conftest import (
    BUCKET,
    SNOWFLAKE_DATABASE,
    Run,
    check_a_late_delivery_leaves_no_pending_row,
    check_streamed_order,
)
from loader.loading import Outcome, backfill_manifests, load_keys
from loader.snowflake_warehouse import SnowflakeWarehouse


def test_copy_path_loads_manifest_counts_once_and_quarantines_bad_files(
    s3: Any, sf: SnowflakeWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    run = Run.of(ergast_tables)
    races = ergast_tables[Dataset.ERGAST_RACES]
    drifted = run.add(Dataset.ERGAST_RACES, races.drop_columns(["name"]))
    status = ergast_tables[Dataset.ERGAST_STATUS]
    run.put_files(s3)

    early = load_keys(run.keys, s3=s3, bucket=BUCKET, warehouse=sf)  # no manifest yet: held back
    assert len(early.keys(Outcome.PENDING)) == 4 and sf.staging_rows(dataset_spec(Dataset.ERGAST_STATUS)) == 0

    run.put_manifest(s3)
    report = load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=sf)

    assert report.keys(Outcome.QUARANTINED) == [drifted]
    assert len(report.keys(Outcome.LOADED)) == 3
    for entry in run.manifest.files:
        expected = 0 if entry.key == drifted else entry.rows
        assert sf.staging_rows(dataset_spec(entry.dataset)) == expected
        assert sf.staging_rows(dataset_spec(entry.dataset), entry.key) == expected
    rows = sf._execute(
        "SELECT status, _file_name, _run_id, _row_number, _load_time FROM GPI_TEST.STAGING.ERGAST_STATUS_STAGING "
        "WHERE status_id = 1"
    )
    assert rows[0][:4] == ("Finished", run.keys[0], run.run_id, 1)
    assert isinstance(rows[0][4], dt.datetime)
    errors = dict(sf._execute("SELECT file_name, error FROM GPI_TEST.STAGING.LOAD_QUARANTINE"))
    assert "missing columns ['name']" in errors[drifted]
    assert sf._execute("SELECT COUNT(*) FROM GPI_TEST.STAGING.LOAD_PENDING") == [(0,)]
    assert not [row for row in sf._execute(f"LIST @{sf.stage}") if run.run_id in row[0]]  # PURGE = TRUE

    again = load_keys([*run.keys, run.manifest_key], s3=s3, bucket=BUCKET, warehouse=sf)
    assert again.rows_loaded == 0 and again.counts["loaded"] == 0
    assert sf.staging_rows(dataset_spec(Dataset.ERGAST_STATUS)) == status.num_rows
    history = dict(sf._execute('SELECT file_name, "ROWS" FROM GPI_TEST.STAGING.LOAD_HISTORY'))
    assert history == {e.key: e.rows for e in run.manifest.files if e.key != drifted}
    # the manifest is recorded once, its files as JSON (dbt derives the complete runs from it)
    manifests = sf._execute("SELECT run_id, source, manifest_key, files FROM GPI_TEST.STAGING.LOAD_MANIFESTS")
    assert [m[:3] for m in manifests] == [(run.run_id, "ergast", run.manifest_key)]
    files = manifests[0][3]
    assert [f["key"] for f in (json.loads(files) if isinstance(files, str) else files)] == [
        e.key for e in run.manifest.files
    ]
    # a warehouse loaded before LOAD_MANIFESTS existed gets the manifest back from the bucket
    assert sf.runs_without_manifest() == []
    sf._execute("DELETE FROM GPI_TEST.STAGING.LOAD_MANIFESTS")
    assert sf.runs_without_manifest() == [run.run_id]
    assert backfill_manifests(s3=s3, bucket=BUCKET, warehouse=sf) == [run.run_id]
    assert sf._execute("SELECT run_id FROM GPI_TEST.STAGING.LOAD_MANIFESTS") == [(run.run_id,)]


def test_copy_path_adds_additive_columns(
    s3: Any, sf: SnowflakeWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    status = ergast_tables[Dataset.ERGAST_STATUS]
    notes = [f"n{i}" if i % 3 else None for i in range(status.num_rows)]
    run = Run()
    run.add(Dataset.ERGAST_STATUS, status.append_column("note", pa.array(notes, pa.string())))
    run.land(s3)

    report = load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=sf)

    assert report.counts["loaded"] == 1
    loaded = sf._execute("SELECT note FROM GPI_TEST.STAGING.ERGAST_STATUS_STAGING ORDER BY _row_number")
    assert [r[0] for r in loaded] == notes


def test_corrupt_file_is_not_staged(s3: Any, sf: SnowflakeWarehouse, ergast_tables: dict[Dataset, pa.Table]) -> None:
    run = Run()
    status = ergast_tables[Dataset.ERGAST_STATUS]
    key = run.add(Dataset.ERGAST_STATUS, data=to_parquet_bytes(status)[:500], rows=status.num_rows)
    run.land(s3)
    report = load_keys([key], s3=s3, bucket=BUCKET, warehouse=sf)
    assert report.keys(Outcome.QUARANTINED) == [key]
    assert not [row for row in sf._execute(f"LIST @{sf.stage}") if key in row[0]]


def test_replay_skips_files_snowpipe_already_loaded(
    s3: Any, sf: SnowflakeWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    status = ergast_tables[Dataset.ERGAST_STATUS]
    run = Run()
    key = run.add(Dataset.ERGAST_STATUS, status)
    run.land(s3)
    # what a pipe leaves behind: staging rows with the file's key, and no load_history row
    sf._execute(
        "INSERT INTO GPI_TEST.STAGING.ERGAST_STATUS_STAGING (status_id, status, _load_time, _file_name, _run_id, "
        "_row_number) SELECT status_id, status, CURRENT_TIMESTAMP(), %s, %s, ROW_NUMBER() OVER (ORDER BY status_id) "
        "FROM (SELECT 1 AS status_id, 'Finished' AS status UNION ALL SELECT 2, 'Disqualified')",
        (key, run.run_id),
    )

    report = load_keys([key, run.manifest_key], s3=s3, bucket=BUCKET, warehouse=sf)

    assert report.counts["loaded"] == 0 and report.keys(Outcome.SKIPPED) == [key, key]
    assert sf.staging_rows(dataset_spec(Dataset.ERGAST_STATUS), key) == 2


def test_a_file_is_staged_from_record_batches_with_every_row_in_place(
    s3: Any, sf: SnowflakeWarehouse, ergast_tables: dict[Dataset, pa.Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    check_streamed_order(
        sf,
        "SELECT _ROW_NUMBER, RESULT_ID FROM GPI_TEST.STAGING.ERGAST_RESULTS_STAGING " "ORDER BY _ROW_NUMBER",
        ergast_tables,
        monkeypatch,
        s3,
    )


def test_a_late_delivery_leaves_no_pending_row_beside_the_load(
    s3: Any, sf: SnowflakeWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    """mark_pending is one MERGE that skips a file already loaded or quarantined."""
    check_a_late_delivery_leaves_no_pending_row(
        s3, sf, Run.of(ergast_tables), f"{SNOWFLAKE_DATABASE}.STAGING.LOAD_PENDING"
    )


def test_two_deliveries_of_a_session_manifest_record_it_once_by_merge(
    sf: SnowflakeWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    """record_manifest is one MERGE (check and insert in one statement, serialized by Snowflake's table lock);
    a second delivery, through another warehouse object on the session, adds nothing."""
    session = SessionId.parse("2023-01-R")
    run_id = new_run_id()
    key = data_key(Dataset.LAPS, run_id, session=session)
    entry = ManifestFile(dataset=Dataset.LAPS, key=key, rows=3, bytes=10, sha256="0" * 64)
    manifest = Manifest(
        run_id=run_id,
        source=Source.FASTF1,
        session=session,
        created_at=dt.datetime(2023, 3, 5, 17, 30, tzinfo=dt.timezone.utc),
        producer="test",
        files=[entry],
    )
    other = SnowflakeWarehouse(sf.conn, database=SNOWFLAKE_DATABASE, work_dir=sf.work_dir)
    for warehouse in (sf, other, sf):
        warehouse.record_manifest(manifest, key=manifest_key(run_id))
    rows = sf._execute(
        "SELECT run_id, source, season, round, session, manifest_key, created_at "
        "FROM GPI_TEST.STAGING.LOAD_MANIFESTS"
    )
    assert [r[:6] for r in rows] == [(run_id, "fastf1", 2023, 1, "R", manifest_key(run_id))]
    assert rows[0][6] == manifest.created_at
