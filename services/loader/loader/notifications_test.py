"""Notifications parsed record by record: a malformed record keeps the valid ones, EventBridge events are read,
and what is unknown is counted (EMF) and recorded, never silent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from f1common.datasets import Dataset
from loader.conftest import BUCKET, REGION, Run, emf_metrics, lambda_context, s3_event
from loader.duckdb_warehouse import DuckDBWarehouse
from loader.handler import handler
from loader.notifications import BadMessage, S3ObjectRef, parse_notification

KEY = "dataset=laps/season=2023/round=01/session=R/laps-20231126T013000Z-1a2b3c4d.parquet"


def eventbridge(key: str, detail_type: str = "Object Created", bucket: str = BUCKET) -> dict[str, Any]:
    """An S3 event as EventBridge delivers it (to an SQS target)."""
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-12-01T12:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": 5},
            "request-id": "N4N7GDK58NMKJ12R",
            "reason": "PutObject",
        },
    }


def test_a_malformed_record_is_described_and_the_valid_ones_are_kept() -> None:
    body = json.loads(s3_event(KEY))
    good = body["Records"][0]
    body["Records"] = [
        {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"object": {}}},
        good,
        "not a record",
        {**good, "s3": {"bucket": {"name": BUCKET}, "object": {"key": 42}}},
    ]

    notification = parse_notification(json.dumps(body), BUCKET)

    assert notification.objects == [S3ObjectRef(BUCKET, KEY)]
    assert len(notification.malformed) == 3
    assert all(len(m) < 400 for m in notification.malformed)


def test_eventbridge_s3_events_are_read_and_other_detail_types_give_nothing() -> None:
    assert parse_notification(eventbridge(KEY), BUCKET).objects == [S3ObjectRef(BUCKET, KEY)]
    assert parse_notification(json.dumps(eventbridge(KEY)), BUCKET).objects == [S3ObjectRef(BUCKET, KEY)]
    deleted = parse_notification(eventbridge(KEY, detail_type="Object Deleted"), BUCKET)
    assert deleted.objects == [] and deleted.malformed == []
    broken = eventbridge(KEY)
    del broken["detail"]["object"]
    assert parse_notification(broken, BUCKET).malformed and not parse_notification(broken, BUCKET).objects


def test_a_body_of_only_malformed_records_is_a_bad_message_quoting_a_bounded_prefix() -> None:
    huge = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"x": "y" * 100_000}}]}
    with pytest.raises(BadMessage) as bad:
        parse_notification(json.dumps(huge), BUCKET)
    assert len(str(bad.value)) < 1000


def test_the_handler_counts_ignored_keys_and_malformed_records(
    s3: Any, lambda_warehouse: Path, ergast_tables: dict[Dataset, pa.Table], capsys: pytest.CaptureFixture[str]
) -> None:
    run = Run()
    key = run.add(Dataset.ERGAST_STATUS, ergast_tables[Dataset.ERGAST_STATUS])
    run.land(s3)
    mixed = json.loads(s3_event(run.manifest_key))
    mixed["Records"].append({"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {}})
    records = [
        {"messageId": "mixed", "body": json.dumps(mixed)},
        {"messageId": "bridge", "body": json.dumps(eventbridge(key))},
        {"messageId": "off", "body": s3_event("dataset=laps/notes.txt")},
        {"messageId": "junk", "body": "not json"},
    ]

    assert handler({"Records": records}, lambda_context()) == {"batchItemFailures": []}

    emf = emf_metrics(capsys)[-1]
    assert (emf["FilesLoaded"], emf["FilesSkipped"], emf["FilesIgnored"]) == ([1.0], [1.0], [1.0])
    assert emf["NotificationRecordsMalformed"] == [2.0]  # the record without an object, and the junk body
    with DuckDBWarehouse.open(lambda_warehouse) as wh:
        assert wh.file_state("dataset=laps/notes.txt") == "QUARANTINED"


def test_given_the_landing_bucket_a_record_of_another_bucket_is_malformed() -> None:
    body = json.loads(s3_event(KEY))
    body["Records"].append(json.loads(s3_event(KEY, bucket="gpi-someone-else"))["Records"][0])

    notification = parse_notification(json.dumps(body), BUCKET)

    assert notification.objects == [S3ObjectRef(BUCKET, KEY)]
    [problem] = notification.malformed
    assert "names bucket 'gpi-someone-else', not the landing bucket" in problem
    with pytest.raises(BadMessage, match="not the landing bucket"):
        parse_notification(s3_event(KEY, bucket="gpi-someone-else"), BUCKET)
    bridged = parse_notification(eventbridge(KEY, bucket="gpi-someone-else"), BUCKET)
    assert bridged.objects == [] and "not the landing bucket" in bridged.malformed[0]
    with pytest.raises(BadMessage) as long_name:  # inside an SNS envelope, and quoted bounded
        parse_notification({"Type": "Notification", "Message": s3_event(KEY, bucket="b" * 5000)}, BUCKET)
    assert "not the landing bucket" in str(long_name.value) and len(str(long_name.value)) < 1000


def test_the_handler_reads_no_bucket_but_the_landing_bucket(
    s3: Any, lambda_warehouse: Path, ergast_tables: dict[Dataset, pa.Table], capsys: pytest.CaptureFixture[str]
) -> None:
    """A notification naming another bucket (a forged message, a second bucket's notification on the queue) is
    counted as malformed and dropped: none of that bucket's objects is read, and the message is not retried."""
    elsewhere = "gpi-test-elsewhere"
    s3.create_bucket(Bucket=elsewhere, CreateBucketConfiguration={"LocationConstraint": REGION})
    run = Run.of(ergast_tables, [Dataset.ERGAST_STATUS])
    for key, payload in run.files.items():
        s3.put_object(Bucket=elsewhere, Key=key, Body=payload)
    s3.put_object(Bucket=elsewhere, Key=run.manifest_key, Body=run.manifest.to_json())
    records = [{"messageId": f"m{i}", "body": s3_event(k, bucket=elsewhere)} for i, k in enumerate(run.files)]
    records.append({"messageId": "manifest", "body": s3_event(run.manifest_key, bucket=elsewhere)})

    assert handler({"Records": records}, lambda_context()) == {"batchItemFailures": []}

    emf = emf_metrics(capsys)[-1]
    assert emf["NotificationRecordsMalformed"] == [2.0] and emf["FilesLoaded"] == [0.0]
    with DuckDBWarehouse.open(lambda_warehouse) as wh:
        assert wh.con.execute("select count(*) from staging.load_history").fetchone() == (0,)
        assert all(wh.file_state(key) is None for key in [*run.files, run.manifest_key])
