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
from loader.conftest import BUCKET, SNOWFLAKE_DATABASE, Run
from loader.duckdb_warehouse import DuckDBWarehouse
from loader.load_health import check_load_health, check_recent_loads, parse_pipe_status
from loader.loading import load_keys
from loader.snowflake_warehouse import SnowflakeWarehouse

DATABASE = SNOWFLAKE_DATABASE


def test_load_health_reports_failed_and_missing_files(
    s3: Any, sf: SnowflakeWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    good = Run.of(ergast_tables)
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
        sf.conn,
        [good.manifest, broken.manifest],
        database=DATABASE,
        since=start,
        metrics=metrics,
        grace=dt.timedelta(0),
        history_source="LOAD_HISTORY",
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
    assert sorted((n[n.index("dataset=") :], s, r) for n, s, r in history) == sorted(
        [(e.key, "LOADED", e.rows) for e in good.manifest.files]
        + [(ok_key, "LOADED", ergast_tables[Dataset.ERGAST_DRIVERS].num_rows)]
    )

    in_flight = check_load_health(
        sf.conn,
        [broken.manifest],
        database=DATABASE,
        since=start,
        metrics=metrics,
        grace=dt.timedelta(hours=1),
        history_source="LOAD_HISTORY",
    )
    assert {f.key: f.status for f in in_flight.files}[never_key] == "IN_FLIGHT"


def test_pipe_status_parsing() -> None:
    raw = json.dumps(
        {
            "executionState": "STOPPED_FEATURE_DISABLED",
            "pendingFileCount": 3,
            "lastIngestedErrorMessage": "Numeric value 'x' is not recognized",
        }
    )
    status = parse_pipe_status("GPI_PROD.STAGING.LAPS_PIPE", raw)
    assert (status.running, status.pending_files, status.error) == (False, 3, "Numeric value 'x' is not recognized")
    assert parse_pipe_status("p", '{"executionState": "RUNNING", "pendingFileCount": 0}').running
    with pytest.raises(ValueError, match="did not return JSON"):
        parse_pipe_status("p", "<html>")


def test_check_recent_loads_reads_the_recent_manifests(
    s3: Any, sf: SnowflakeWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    old = Run(new_run_id(now - dt.timedelta(days=2)))
    old.add(Dataset.ERGAST_CIRCUITS, ergast_tables[Dataset.ERGAST_CIRCUITS])
    old.put_manifest(s3)  # never loaded, but outside the window
    recent = Run.of(ergast_tables)
    recent.land(s3)
    load_keys([recent.manifest_key], s3=s3, bucket=BUCKET, warehouse=sf)
    metrics = Metrics(namespace=METRICS_NAMESPACE, service="loader-health-test")

    report = check_recent_loads(
        sf.conn,
        s3=s3,
        bucket=BUCKET,
        database=DATABASE,
        lookback_hours=1,
        metrics=metrics,
        history_source="LOAD_HISTORY",
        check_pipes=False,
    )

    assert sorted(f.key for f in report.files) == sorted(recent.keys)
    assert report.summary()["files"] == {"LOADED": 3, "FAILED": 0, "MISSING": 0, "IN_FLIGHT": 0}


# --- findings in staging.load_health (the pipeline-health dashboard's) ---

FINDING_COLUMNS = "kind, subject, status, healthy, reason, status_since, checked_at"


def findings_of(conn: Any) -> dict[str, tuple[Any, ...]]:
    """subject -> (kind, status, healthy, reason, status_since, checked_at) of every row of staging.load_health."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT {FINDING_COLUMNS} FROM staging.load_health")
        rows = cur.fetchall()
    assert len({r[1] for r in rows}) == len(rows), "one row per subject"
    return {str(r[1]): (r[0], r[2], bool(r[3]), r[4], r[5], r[6]) for r in rows}


def emitted(metrics: Metrics) -> dict[str, list[float]]:
    emf = dict(metrics.serialize_metric_set())
    metrics.clear_metrics()
    return {k: v for k, v in emf.items() if isinstance(v, list)}


def test_findings_of_a_missing_and_a_failed_file_are_recorded_once_and_resolved_when_the_file_loads(
    s3: Any, warehouse: DuckDBWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    """On the embedded warehouse (the loader's bookkeeping, no COPY_HISTORY), through the same check as Snowflake's."""
    good = Run()
    good.add(Dataset.ERGAST_STATUS, ergast_tables[Dataset.ERGAST_STATUS])
    good.land(s3)
    broken = Run()
    bad_key = broken.add(Dataset.ERGAST_DRIVERS, data=b"PAR1 not really parquet PAR1", rows=3)
    late_key = broken.add(Dataset.ERGAST_CIRCUITS, ergast_tables[Dataset.ERGAST_CIRCUITS])
    broken.put_files(s3, [bad_key])  # the circuits file has not landed yet
    broken.put_manifest(s3)
    load_keys([good.manifest_key, broken.manifest_key], s3=s3, bucket=BUCKET, warehouse=warehouse)
    metrics = Metrics(namespace=METRICS_NAMESPACE, service="loader-health-test")
    metrics.clear_metrics()  # Powertools keeps one metric set per process

    def check() -> dict[str, tuple[Any, ...]]:
        check_recent_loads(
            warehouse.con, s3=s3, bucket=BUCKET, lookback_hours=1, grace_minutes=0, metrics=metrics, dialect="duckdb"
        )
        return findings_of(warehouse.con)

    first = check()
    [good_key] = good.keys
    assert {k: v[:3] for k, v in first.items()} == {
        good_key: ("file", "LOADED", True),
        bad_key: ("file", "FAILED", False),
        late_key: ("file", "MISSING", False),
    }
    assert "not a readable Parquet file" in first[bad_key][3]
    assert first[late_key][3].startswith("listed by the manifest of ")
    m = emitted(metrics)
    assert (m["HealthFilesLoaded"], m["HealthFilesFailed"], m["HealthFilesMissing"]) == ([1.0], [1.0], [1.0])

    again = check()  # a rerun: the same findings, not doubled; the time each entered its status is kept
    assert {k: v[:5] for k, v in again.items()} == {k: v[:5] for k, v in first.items()}
    assert all(again[k][5] >= first[k][5] for k in first)
    assert emitted(metrics)["HealthFilesMissing"] == [1.0]

    broken.put_files(s3, [late_key])  # the file lands (its notification reaches the loader) and loads
    load_keys([late_key], s3=s3, bucket=BUCKET, warehouse=warehouse)
    resolved = check()
    assert resolved[late_key][:3] == ("file", "LOADED", True) and resolved[late_key][3] is None
    assert resolved[late_key][4] > first[late_key][4]  # a new status, from this check on
    assert resolved[bad_key][:3] == ("file", "FAILED", False) and len(resolved) == 3
    m = emitted(metrics)
    assert (m["HealthFilesLoaded"], m["HealthFilesFailed"], m["HealthFilesMissing"]) == ([2.0], [1.0], [0.0])


def test_open_findings_are_revisited_after_they_leave_the_lookback_window(
    s3: Any, warehouse: DuckDBWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    old = Run(new_run_id(dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2)))
    key = old.add(Dataset.ERGAST_CIRCUITS, ergast_tables[Dataset.ERGAST_CIRCUITS])
    old.put_manifest(s3)  # its file never landed
    metrics = Metrics(namespace=METRICS_NAMESPACE, service="loader-health-test")
    metrics.clear_metrics()

    def check(hours: float) -> dict[str, tuple[Any, ...]]:
        check_recent_loads(
            warehouse.con,
            s3=s3,
            bucket=BUCKET,
            lookback_hours=hours,
            grace_minutes=0,
            metrics=metrics,
            dialect="duckdb",
        )
        return findings_of(warehouse.con)

    assert check(72)[key][1] == "MISSING"
    assert check(1)[key][1] == "MISSING", "still open: checked again though its run is older than the window"
    assert emitted(metrics)["HealthFilesMissing"] == [1.0, 1.0]
    old.put_files(s3)
    load_keys([key], s3=s3, bucket=BUCKET, warehouse=warehouse)
    assert check(1)[key][1:3] == ("LOADED", True)
    assert check(1) == {}, "a resolved finding outside the window is not checked again"


def test_a_pipe_not_running_is_a_finding_and_a_metric_on_snowflake(
    s3: Any, sf: SnowflakeWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    """Snowflake's path (fakesnow): the findings written through bound parameters, SYSTEM$PIPE_STATUS's JSON parsed
    (fakesnow has no pipes, so the statuses are given as the function would return them)."""
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    run = Run()
    run.add(Dataset.ERGAST_STATUS, ergast_tables[Dataset.ERGAST_STATUS])
    run.land(s3)
    load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=sf)
    hostile = "Numeric value 'x' is not recognized'); DROP TABLE STAGING.LOAD_HISTORY; --" + "x" * 400
    pipes = [
        parse_pipe_status(
            f"{DATABASE}.STAGING.LAPS_PIPE",
            json.dumps(
                {
                    "executionState": "STOPPED_BY_SNOWFLAKE_ADMIN",
                    "pendingFileCount": 7,
                    "lastIngestedErrorMessage": hostile,
                }
            ),
        ),
        parse_pipe_status(f"{DATABASE}.STAGING.RESULTS_PIPE", '{"executionState": "RUNNING", "pendingFileCount": 0}'),
    ]
    metrics = Metrics(namespace=METRICS_NAMESPACE, service="loader-health-test")
    metrics.clear_metrics()

    for _ in range(2):  # a rerun doubles nothing
        check_load_health(
            sf.conn,
            [run.manifest],
            database=DATABASE,
            since=start,
            metrics=metrics,
            grace=dt.timedelta(0),
            history_source="LOAD_HISTORY",
            pipes=lambda: pipes,
        )
        found = findings_of(sf.conn)
        assert {k: v[:3] for k, v in found.items()} == {
            run.keys[0]: ("file", "LOADED", True),
            f"{DATABASE}.STAGING.LAPS_PIPE": ("pipe", "STOPPED_BY_SNOWFLAKE_ADMIN", False),
            f"{DATABASE}.STAGING.RESULTS_PIPE": ("pipe", "RUNNING", True),
        }
        reason = found[f"{DATABASE}.STAGING.LAPS_PIPE"][3]
        assert reason.startswith("Numeric value 'x' is not recognized'); DROP") and len(reason) == 300
        assert sf._execute("SELECT count(*) FROM STAGING.LOAD_HISTORY") == [(1,)]
        m = emitted(metrics)
        assert (m["PipesNotRunning"], m["PipePendingFiles"]) == ([1.0], [7.0])


def test_the_loader_emits_only_the_metrics_of_the_contract() -> None:
    """Every `metric.<NAME>` the loader's code names is in f1common.metrics.LOADER_METRICS, whose every metric the
    AWS stack alarms (infra's test): so a new loader metric without an alarm fails one of the two."""
    import ast
    from pathlib import Path

    import loader.handler  # the Lambdas' entry points: every module they run is beside this test
    from f1common import metrics as metric

    names: set[str] = set()
    for source in Path(loader.handler.__file__).parent.glob("*.py"):
        if source.name.endswith("_test.py") or source.name == "conftest.py":
            continue
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "metric":
                names.add(getattr(metric, node.attr))
    assert names and names <= set(metric.LOADER_METRICS), sorted(names - set(metric.LOADER_METRICS))
    assert set(metric.LOADER_METRICS) <= names, "the contract lists a metric the loader does not emit"
