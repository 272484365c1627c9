"""The Snowflake path in-process against fakesnow: key-pair connection, PUT + COPY, quarantine, load health."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import fakesnow
import pyarrow as pa
import pytest
from aws_lambda_powertools import Metrics
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from f1common.datasets import Dataset, dataset_spec
from f1common.layout import new_run_id
from f1common.names import METRICS_NAMESPACE
from f1common.settings import Settings
from f1common.tables import to_parquet_bytes
from loader.conftest import BUCKET, REGION, Run
from loader.loading import Outcome, load_keys
from loader.snowflake_loader import (
    SnowflakeWarehouse,
    check_load_health,
    check_recent_loads,
    connect,
    load_private_key,
    parse_pipe_status,
)

DATABASE = "GPI_TEST"
SMALL = [Dataset.ERGAST_STATUS, Dataset.ERGAST_CIRCUITS, Dataset.ERGAST_CONSTRUCTORS]


def _pem(passphrase: bytes | None = None) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase
                  else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


@pytest.fixture(scope="module")
def pem() -> bytes:
    return _pem()


@pytest.fixture
def snowflake_settings(tmp_path: Path, pem: bytes) -> Settings:
    key_file = tmp_path / "rsa_key.p8"
    key_file.write_bytes(pem)
    return Settings(snowflake_account="gpi-test", snowflake_user="LOADER", snowflake_private_key_path=key_file,
                    snowflake_database=DATABASE, snowflake_role="LOADER", snowflake_warehouse="LOAD_WH")


@pytest.fixture
def sf(snowflake_settings: Settings, tmp_path: Path) -> Iterator[SnowflakeWarehouse]:
    with fakesnow.patch():
        conn = connect(snowflake_settings)
        warehouse = SnowflakeWarehouse(conn, database=DATABASE, work_dir=tmp_path / "work")
        warehouse.ensure_schema()
        yield warehouse
        conn.close()


def test_private_key_from_file_and_secrets_manager(snowflake_settings: Settings, pem: bytes, aws: None) -> None:
    der = load_private_key(snowflake_settings)
    expected = serialization.load_pem_private_key(pem, password=None).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    assert der == expected

    secrets = boto3.client("secretsmanager", region_name=REGION)
    secrets.create_secret(Name="gpi/snowflake/loader-key", SecretString=pem.decode())
    from_secret = Settings(snowflake_private_key_secret_id="gpi/snowflake/loader-key")
    assert load_private_key(from_secret, secrets) == expected


def test_private_key_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="GPI_SNOWFLAKE_PRIVATE_KEY_PATH or GPI_SNOWFLAKE_PRIVATE_KEY_SECRET_ID"):
        load_private_key(Settings())
    encrypted = tmp_path / "enc.p8"
    encrypted.write_bytes(_pem(b"secret"))
    with pytest.raises(ValueError, match="not an unencrypted PEM private key"):
        load_private_key(Settings(snowflake_private_key_path=encrypted))
    with pytest.raises(ValueError, match="GPI_SNOWFLAKE_ACCOUNT, GPI_SNOWFLAKE_USER"):
        connect(Settings(snowflake_private_key_path=encrypted))


def test_copy_path_loads_manifest_counts_once_and_quarantines_bad_files(
    s3: Any, sf: SnowflakeWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    run = Run()
    for d in SMALL:
        run.add(d, ergast_tables[d])
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


def test_copy_path_adds_additive_columns(s3: Any, sf: SnowflakeWarehouse,
                                         ergast_tables: dict[Dataset, pa.Table]) -> None:
    status = ergast_tables[Dataset.ERGAST_STATUS]
    notes = [f"n{i}" if i % 3 else None for i in range(status.num_rows)]
    run = Run()
    run.add(Dataset.ERGAST_STATUS, status.append_column("note", pa.array(notes, pa.string())))
    run.land(s3)

    report = load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=sf)

    assert report.counts["loaded"] == 1
    loaded = sf._execute("SELECT note FROM GPI_TEST.STAGING.ERGAST_STATUS_STAGING ORDER BY _row_number")
    assert [r[0] for r in loaded] == notes


def test_load_health_reports_failed_and_missing_files(s3: Any, sf: SnowflakeWarehouse,
                                                      ergast_tables: dict[Dataset, pa.Table]) -> None:
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    good = Run()
    for d in SMALL:
        good.add(d, ergast_tables[d])
    good.land(s3)
    broken = Run()
    ok_key = broken.add(Dataset.ERGAST_DRIVERS, ergast_tables[Dataset.ERGAST_DRIVERS])
    bad_key = broken.add(Dataset.ERGAST_STATUS, data=b"PAR1 not really parquet PAR1", rows=3)
    never_key = broken.add(Dataset.ERGAST_CIRCUITS, ergast_tables[Dataset.ERGAST_CIRCUITS])
    broken.put_files(s3, [ok_key, bad_key])  # the circuits file never lands
    broken.put_manifest(s3)
    load_keys([good.manifest_key, broken.manifest_key], s3=s3, bucket=BUCKET, warehouse=sf)
    metrics = Metrics(namespace=METRICS_NAMESPACE, service="loader-health-test")

    report = check_load_health(
        sf.conn, [good.manifest, broken.manifest], database=DATABASE, since=start, metrics=metrics,
        grace=dt.timedelta(0), history_source="LOAD_HISTORY",
    )

    status = {f.key: f.status for f in report.files}
    assert status == {**{k: "LOADED" for k in good.keys}, ok_key: "LOADED", bad_key: "FAILED", never_key: "MISSING"}
    failed = next(f for f in report.files if f.key == bad_key)
    assert failed.error is not None and "not a readable Parquet file" in failed.error
    emf: dict[str, Any] = dict(metrics.serialize_metric_set())
    assert (emf["HealthFilesLoaded"], emf["HealthFilesFailed"], emf["HealthFilesMissing"]) == ([4.0], [1.0], [1.0])
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == METRICS_NAMESPACE
    # Snowflake's own load records agree with the loader's bookkeeping
    history = sf._execute("SELECT file_name, status, row_count FROM GPI_TEST.INFORMATION_SCHEMA.LOAD_HISTORY")
    assert sorted((n[n.index("dataset="):], s, r) for n, s, r in history) == sorted(
        [(e.key, "LOADED", e.rows) for e in good.manifest.files]
        + [(ok_key, "LOADED", ergast_tables[Dataset.ERGAST_DRIVERS].num_rows)]
    )

    in_flight = check_load_health(sf.conn, [broken.manifest], database=DATABASE, since=start, metrics=metrics,
                                  grace=dt.timedelta(hours=1), history_source="LOAD_HISTORY")
    assert {f.key: f.status for f in in_flight.files}[never_key] == "IN_FLIGHT"


def test_pipe_status_parsing() -> None:
    raw = json.dumps({"executionState": "STOPPED_FEATURE_DISABLED", "pendingFileCount": 3,
                      "lastIngestedErrorMessage": "Numeric value 'x' is not recognized"})
    status = parse_pipe_status("GPI_PROD.STAGING.LAPS_PIPE", raw)
    assert (status.running, status.pending_files, status.error) == (False, 3, "Numeric value 'x' is not recognized")
    assert parse_pipe_status("p", '{"executionState": "RUNNING", "pendingFileCount": 0}').running
    with pytest.raises(ValueError, match="did not return JSON"):
        parse_pipe_status("p", "<html>")


def test_corrupt_file_is_not_staged(s3: Any, sf: SnowflakeWarehouse, ergast_tables: dict[Dataset, pa.Table]) -> None:
    run = Run()
    status = ergast_tables[Dataset.ERGAST_STATUS]
    key = run.add(Dataset.ERGAST_STATUS, data=to_parquet_bytes(status)[:500], rows=status.num_rows)
    run.land(s3)
    report = load_keys([key], s3=s3, bucket=BUCKET, warehouse=sf)
    assert report.keys(Outcome.QUARANTINED) == [key]
    assert not [row for row in sf._execute(f"LIST @{sf.stage}") if key in row[0]]


def test_replay_skips_files_snowpipe_already_loaded(s3: Any, sf: SnowflakeWarehouse,
                                                    ergast_tables: dict[Dataset, pa.Table]) -> None:
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


def test_check_recent_loads_reads_the_recent_manifests(s3: Any, sf: SnowflakeWarehouse,
                                                       ergast_tables: dict[Dataset, pa.Table]) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    old = Run(new_run_id(now - dt.timedelta(days=2)))
    old.add(Dataset.ERGAST_CIRCUITS, ergast_tables[Dataset.ERGAST_CIRCUITS])
    old.put_manifest(s3)  # never loaded, but outside the window
    recent = Run()
    for d in SMALL:
        recent.add(d, ergast_tables[d])
    recent.land(s3)
    load_keys([recent.manifest_key], s3=s3, bucket=BUCKET, warehouse=sf)
    metrics = Metrics(namespace=METRICS_NAMESPACE, service="loader-health-test")

    report = check_recent_loads(sf.conn, s3=s3, bucket=BUCKET, database=DATABASE, lookback_hours=1,
                                metrics=metrics, history_source="LOAD_HISTORY", check_pipes=False)

    assert sorted(f.key for f in report.files) == sorted(recent.keys)
    assert report.summary()["files"] == {"LOADED": 3, "FAILED": 0, "MISSING": 0, "IN_FLIGHT": 0}
