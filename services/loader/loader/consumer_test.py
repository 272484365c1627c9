"""S3 event notifications in SQS bodies; the Lambda handler over an SQS batch (moto S3, DuckDB)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from botocore.exceptions import ClientError

import loader.handler
from f1common.datasets import Dataset, dataset_spec
from f1common.layout import data_key, new_run_id
from loader.conftest import BUCKET, Run, emf_metrics, lambda_context, s3_event
from loader.consumer import load_batch
from loader.duckdb_warehouse import DuckDBWarehouse
from loader.handler import handler
from loader.notifications import BadMessage, S3ObjectRef, s3_objects


def failing_for(run_id: str) -> Any:
    """The handler's client factory, whose S3 client fails (as S3 can, unexpectedly) to get the objects of a run
    (its files and its manifest)."""
    make = loader.handler.aws_client

    class FailingS3:
        def __init__(self, client: Any) -> None:
            self.client = client

        def get_object(self, **kwargs: Any) -> Any:
            if run_id in kwargs["Key"]:
                raise ClientError({"Error": {"Code": "InternalError", "Message": "try again"}}, "GetObject")
            return self.client.get_object(**kwargs)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.client, name)

    def factory(service: str, settings: Any) -> Any:
        client = make(service, settings)
        return FailingS3(client) if service == "s3" else client

    return factory


def test_s3_objects_decodes_keys_and_skips_test_events() -> None:
    key = "dataset=laps/season=2023/round=01/session=R/laps-20231126T013000Z-1a2b3c4d.parquet"
    body = json.loads(s3_event(key))
    body["Records"].append(body["Records"][0])  # moto may send one key twice
    body["Records"].append({**body["Records"][0], "eventName": "ObjectRemoved:Delete"})
    assert "%2F" in body["Records"][0]["s3"]["object"]["key"]
    assert s3_objects(json.dumps(body), BUCKET) == [S3ObjectRef(BUCKET, key)]
    assert s3_objects(json.dumps({"Type": "Notification", "Message": s3_event(key)}), BUCKET) == [
        S3ObjectRef(BUCKET, key)
    ]
    assert s3_objects(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}), BUCKET) == []
    spaced = "manifests/a b.json"  # real S3 encodes a space as '+'
    assert s3_objects(s3_event(spaced), BUCKET) == [S3ObjectRef(BUCKET, spaced)]


def test_s3_objects_rejects_other_bodies() -> None:
    with pytest.raises(BadMessage, match="not JSON"):
        s3_objects("hello", BUCKET)
    with pytest.raises(BadMessage, match="no 'Records' list"):
        s3_objects('{"season": 2023}', BUCKET)
    with pytest.raises(BadMessage, match="lacks s3.bucket.name"):
        s3_objects('{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {}}]}', BUCKET)


def test_handler_processes_an_sqs_batch_and_reports_failures(
    s3: Any,
    lambda_warehouse: Path,
    ergast_tables: dict[Dataset, pa.Table],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = Run.of(ergast_tables)
    run.land(s3)
    records = [{"messageId": f"m{i}", "body": s3_event(k)} for i, k in enumerate([*run.keys, run.manifest_key])]
    records.append({"messageId": "junk", "body": "not json"})  # dropped, not retried
    failing = new_run_id()
    records.append(
        {"messageId": "gone", "body": s3_event(data_key(Dataset.ERGAST_STATUS, failing))}
    )  # S3 error: retried
    monkeypatch.setattr(loader.handler, "aws_client", failing_for(failing))

    result = handler({"Records": records}, lambda_context())

    assert result == {"batchItemFailures": [{"itemIdentifier": "gone"}]}
    with DuckDBWarehouse.open(lambda_warehouse) as wh:
        for entry in run.manifest.files:
            assert wh.staging_rows(dataset_spec(entry.dataset)) == entry.rows
    emf = emf_metrics(capsys)
    assert emf and (emf[-1]["FilesLoaded"], emf[-1]["FilesPending"]) == ([3.0], [0.0])


@pytest.mark.usefixtures("lambda_warehouse")
def test_a_batch_reads_each_runs_manifest_once(
    s3: Any, warehouse: DuckDBWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    run = Run.of(ergast_tables)
    run.land(s3)
    manifest_gets: list[str] = []

    class CountingS3:
        def get_object(self, **kwargs: Any) -> Any:
            if kwargs["Key"] == run.manifest_key:
                manifest_gets.append(kwargs["Key"])
            return s3.get_object(**kwargs)

    records = [{"messageId": f"m{i}", "body": s3_event(k)} for i, k in enumerate([*run.keys, run.manifest_key])]

    result = load_batch({"Records": records}, s3=CountingS3(), bucket=BUCKET, warehouse=warehouse)

    assert result.failed == [] and result.report.counts["loaded"] == len(run.keys) >= 2
    assert manifest_gets == [run.manifest_key]  # one GET for the batch, not one per file's notification


def test_the_handlers_log_a_bounded_summary_of_the_event_never_the_payload(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even with Powertools told to log whole events (POWERTOOLS_LOGGER_LOG_EVENT, read when the handler module
    is imported), no log line quotes more than a bounded prefix of a 200 KB message or a long S3 key."""
    import importlib

    import loader.handler

    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    reloaded = importlib.reload(loader.handler)
    stream = io.StringIO()
    monkeypatch.setattr(reloaded.logger.registered_handler, "stream", stream)
    junk = "x" * 200_000
    off_layout = "dataset=laps/" + "y" * 900 + ".parquet"  # recorded and ignored, its key quoted in the logs
    records = [{"messageId": "junk", "body": junk}, {"messageId": "long-key", "body": s3_event(off_layout)}]

    assert reloaded.handler({"Records": records}, lambda_context()) == {"batchItemFailures": []}
    lines = stream.getvalue().splitlines()
    logged = [json.loads(line) for line in lines]
    assert any(o["message"] == "event received" and o["event"]["size"] > 200_000 for o in logged)
    assert any(o["message"] == "file processed" and o["outcome"] == "ignored" for o in logged)
    assert max(len(line) for line in lines) < 2_000
    assert "x" * 500 not in stream.getvalue() and "y" * 500 not in stream.getvalue()
    monkeypatch.delenv("POWERTOOLS_LOGGER_LOG_EVENT")
    importlib.reload(loader.handler)
