"""The loader on the embedded stack and the real data under hostile files and racing deliveries: a column name
built to be SQL is quarantined with the reason while the session's other datasets and the staged sessions stay;
one manifest delivered by six threads at once loads each file once with no false quarantine row; a COMMIT
that fails raises its own error, writes nothing, and the redelivery loads."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa
import pytest

import ingestion.ingest
from f1common.datasets import Dataset, dataset_spec
from f1common.duckdb_testing import CommitFails
from f1common.layout import manifest_key
from f1common.sessions import SessionId
from grandprix_local.harness import EmbeddedStack
from grandprix_local.sqs_trigger import sqs_event
from loader.consumer import load_batch
from loader.duckdb_warehouse import DuckDBWarehouse
from loader.loading import Outcome

STAGED = "2023-01-R"
HOSTILE_SESSION = "2025-01-R"
HOSTILE = "x VARCHAR; DELETE FROM staging.laps_staging; COMMIT; --"


def land(stack: EmbeddedStack, *keys: str) -> dict[str, str]:
    """Ingests `keys` (calendar synced first); returns session key -> run id."""
    stack.pipeline.sync_calendar([SessionId.parse(k) for k in keys])
    outcomes = {k: stack.ingest(k) for k in keys}
    assert all(o["status"] == "ingested" for o in outcomes.values()), outcomes
    return {k: str(o["run_id"]) for k, o in outcomes.items()}


def notification(stack: EmbeddedStack, key: str, message_id: str) -> dict[str, Any]:
    body = json.dumps(
        {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": stack.settings.bucket}, "object": {"key": key}},
                }
            ]
        }
    )
    return sqs_event([{"MessageId": message_id, "ReceiptHandle": message_id, "Body": body}])


def test_a_laps_file_with_a_column_named_as_sql_is_quarantined_and_nothing_else_changes(
    stack: EmbeddedStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    land(stack, STAGED)
    stack.drain()
    laps_before = stack.session_rows("laps_staging", STAGED)
    history_before = stack.query("select count(*) from staging.load_history")[0][0]
    assert laps_before > 0

    real_put_table = ingestion.ingest.put_table

    def put_table(s3: Any, bucket: str, key: str, dataset: Dataset, table: pa.Table) -> Any:
        if dataset is Dataset.LAPS:  # the file and its manifest entry agree: only the name is hostile
            table = table.append_column(HOSTILE, pa.array(["1"] * table.num_rows, pa.string()))
        return real_put_table(s3, bucket, key, dataset, table)

    with monkeypatch.context() as patch:
        patch.setattr(ingestion.ingest, "put_table", put_table)
        run_id = land(stack, HOSTILE_SESSION)[HOSTILE_SESSION]
    report = stack.drain()

    manifest = stack.manifests()[run_id]
    laps = next(f for f in manifest.files if f.dataset is Dataset.LAPS)
    assert report.keys(Outcome.QUARANTINED) == [laps.key]
    (error,) = stack.query("select error from staging.load_quarantine where file_name = ?", laps.key)[0]
    assert "column name refused" in error and "DELETE FROM" in error
    assert stack.session_rows("laps_staging", STAGED) == laps_before
    assert stack.session_rows("laps_staging", HOSTILE_SESSION) == 0
    for entry in manifest.files:
        if entry.key != laps.key:
            assert stack.session_rows(dataset_spec(entry.dataset).staging_table, HOSTILE_SESSION) == entry.rows
    history = stack.query("select count(*) from staging.load_history")[0][0]
    assert history == history_before + len(manifest.files) - 1


def test_one_manifest_delivered_by_six_threads_at_once_loads_each_file_once(stack: EmbeddedStack) -> None:
    run_id = land(stack, HOSTILE_SESSION)[HOSTILE_SESSION]
    manifest = stack.manifests()[run_id]
    DuckDBWarehouse.open(stack.warehouse).close()  # the schema exists, as in the cloud
    threads = 6
    start = threading.Barrier(threads)

    def deliver(i: int) -> Any:
        with DuckDBWarehouse.open(stack.warehouse) as warehouse:  # one connection per concurrent Lambda
            start.wait()
            return load_batch(
                notification(stack, manifest_key(run_id), f"m{i}"),
                s3=stack.s3,
                bucket=stack.settings.bucket,
                warehouse=warehouse,
            )

    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(deliver, range(threads)))

    assert all(r.failed == [] for r in results), [r.response for r in results]
    loaded = sorted(k for r in results for k in r.report.keys(Outcome.LOADED))
    assert loaded == sorted(f.key for f in manifest.files)
    assert sum(r.report.counts["skipped"] for r in results) == (threads - 1) * len(manifest.files)
    assert stack.query("select count(*) from staging.load_quarantine") == [(0,)]
    for entry in manifest.files:
        assert stack.query("select rows from staging.load_history where file_name = ?", entry.key) == [(entry.rows,)]
        assert stack.session_rows(dataset_spec(entry.dataset).staging_table, HOSTILE_SESSION) == entry.rows


def test_a_failed_commit_fails_the_message_with_its_own_error_and_the_redelivery_loads(
    stack: EmbeddedStack, caplog: pytest.LogCaptureFixture
) -> None:
    run_id = land(stack, STAGED)[STAGED]
    manifest = stack.manifests()[run_id]
    with DuckDBWarehouse.open(stack.warehouse) as warehouse:
        warehouse.con = CommitFails(warehouse.con)  # type: ignore[assignment]
        failed = load_batch(
            notification(stack, manifest_key(run_id), "m1"),
            s3=stack.s3,
            bucket=stack.settings.bucket,
            warehouse=warehouse,
        )
        warehouse.con = warehouse.con._con  # type: ignore[attr-defined]
    assert failed.failed == ["m1"]
    logged = caplog.text
    assert "injected: COMMIT failed" in logged and "no transaction is active" not in logged
    assert stack.query("select count(*) from staging.load_history") == [(0,)]
    assert stack.query("select count(*) from staging.load_quarantine") == [(0,)]

    report = stack.drain()  # the queue's notifications, as the redelivery would
    assert sorted(report.keys(Outcome.LOADED)) == sorted(f.key for f in manifest.files)
    for entry in manifest.files:
        assert stack.session_rows(dataset_spec(entry.dataset).staging_table, STAGED) == entry.rows
