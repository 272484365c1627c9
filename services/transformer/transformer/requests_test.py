"""The transformer queue's messages are parsed strictly; refused ones are quoted in bounded form."""

from __future__ import annotations

import json
from typing import Any

import pytest

import transformer.requests
from f1common.layout import manifest_key
from f1common.transform import TransformRequest, manifest_landed_pattern
from transformer.requests import MAX_QUOTED, BadRequest, parse_body, parse_records

RUN = "20250316T061500Z-0123abcd"


def s3_event(key: str, *, source: str = "aws.s3", detail_type: str = "Object Created") -> str:
    """The EventBridge event S3 sends for a new object (the shape of the AWS documentation's example)."""
    return json.dumps(
        {
            "version": "0",
            "id": "17793124-05d4-b198-2fde-7ededc63b103",
            "detail-type": detail_type,
            "source": source,
            "account": "123456789012",
            "time": "2025-03-16T06:15:00Z",
            "region": "eu-west-1",
            "resources": ["arn:aws:s3:::gpi-dev-landing"],
            "detail": {
                "version": "0",
                "bucket": {"name": "gpi-dev-landing"},
                "object": {"key": key, "size": 512, "etag": "b1946ac92492d2347c6235b4d2611184"},
                "request-id": "N4N7GDK58NMKJ12R",
                "requester": "123456789012",
                "reason": "PutObject",
            },
        }
    )


def test_a_landed_manifest_names_its_run() -> None:
    assert parse_body("m1", s3_event(manifest_key(RUN))).run_id == RUN
    assert parse_body("m1", s3_event(manifest_key(RUN))).kind == "landed"


def test_scheduled_and_manual_requests() -> None:
    scheduled = parse_body("m2", TransformRequest(kind="scheduled").model_dump_json())
    assert (scheduled.kind, scheduled.run_id, scheduled.full_refresh) == ("scheduled", None, False)
    manual = parse_body("m3", json.dumps({"kind": "manual", "full_refresh": True}))
    assert (manual.kind, manual.full_refresh) == ("manual", True)


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        s3_event(f"dataset=laps/season=2025/round=01/session=R/laps-{RUN}.parquet"),  # a data file, not a manifest
        s3_event("manifests/../../etc/passwd.json"),
        s3_event(manifest_key(RUN), source="aws.ec2"),
        s3_event(manifest_key(RUN), detail_type="Object Deleted"),
        json.dumps({"kind": "scheduled", "select": "fqn:*"}),  # no field beyond the contract
        json.dumps({"kind": "drop table"}),
        json.dumps({"detail-type": "Object Created", "source": "aws.s3", "detail": "x"}),
        json.dumps({"detail-type": "Object Created", "source": "aws.s3", "detail": {"object": "x"}}),
        json.dumps({"detail-type": "Object Created", "source": "aws.s3", "detail": {"object": {"key": 5}}}),
    ],
)
def test_anything_else_is_refused(body: str) -> None:
    with pytest.raises(BadRequest):
        parse_body("m4", body)


def test_refusals_quote_a_bounded_summary_and_the_batch_goes_on() -> None:
    huge = "x" * 10_000
    event = {
        "Records": [{"messageId": "bad", "body": huge}, {"messageId": "good", "body": s3_event(manifest_key(RUN))}]
    }
    requests, refused = parse_records(event)
    assert [r.message_id for r in requests] == ["good"]
    assert set(refused) == {"bad"} and len(refused["bad"]) < MAX_QUOTED + 100
    with pytest.raises(BadRequest):
        parse_records({"no": "records"})


def test_a_message_the_parser_fails_on_is_refused_not_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever parse_body raises, the message is in the batch's failures (retried, then the DLQ)."""

    def broken(message_id: str, body: str) -> Any:
        raise AttributeError("'str' object has no attribute 'get'")

    monkeypatch.setattr(transformer.requests, "parse_body", broken)
    requests, refused = parse_records({"Records": [{"messageId": "m5", "body": "{}"}]})
    assert requests == [] and refused == {"m5": "message 'm5' not parsed: AttributeError"}


def test_the_rule_pattern_matches_manifests_of_the_bucket_only() -> None:
    pattern = manifest_landed_pattern("gpi-dev-landing")
    assert pattern["detail"]["object"]["key"] == [{"prefix": "manifests/"}]
    assert pattern["detail"]["bucket"]["name"] == ["gpi-dev-landing"]
    assert (pattern["source"], pattern["detail-type"]) == (["aws.s3"], ["Object Created"])
