"""Load health against fakesnow: failed, missing and in-flight files, pipe status, the recent manifests."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pyarrow as pa
import pytest
from aws_lambda_powertools import Metrics

from f1common.datasets import Dataset
from f1common.layout import new_run_id
from f1common.names import METRICS_NAMESPACE
from loader.conftest import BUCKET, SMALL, SNOWFLAKE_DATABASE, Run
from loader.load_health import check_load_health, check_recent_loads, parse_pipe_status
from loader.loading import load_keys
from loader.snowflake_warehouse import SnowflakeWarehouse

DATABASE = SNOWFLAKE_DATABASE


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
