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

    notification = parse_notification(json.dumps(body))

    assert notification.objects == [S3ObjectRef(BUCKET, KEY)]
    assert len(notification.malformed) == 3
    assert all(len(m) < 400 for m in notification.malformed)


def test_eventbridge_s3_events_are_read_and_other_detail_types_give_nothing() -> None:
    assert parse_notification(eventbridge(KEY)).objects == [S3ObjectRef(BUCKET, KEY)]
    assert parse_notification(json.dumps(eventbridge(KEY))).objects == [S3ObjectRef(BUCKET, KEY)]
    deleted = parse_notification(eventbridge(KEY, detail_type="Object Deleted"))
    assert deleted.objects == [] and deleted.malformed == []
    broken = eventbridge(KEY)
    del broken["detail"]["object"]
    assert parse_notification(broken).malformed and not parse_notification(broken).objects


def test_a_body_of_only_malformed_records_is_a_bad_message_quoting_a_bounded_prefix() -> None:
    huge = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"x": "y" * 100_000}}]}
    with pytest.raises(BadMessage) as bad:
        parse_notification(json.dumps(huge))
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
