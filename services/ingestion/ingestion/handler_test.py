"""The Lambda handler's routes, in-process and against a moto server (AWS_ENDPOINT_URL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from f1common.clients import clear_client_cache
from f1common.datasets import Dataset
from f1common.events import BadRequest
from f1common.layout import MANIFEST_PREFIX
from f1common.manifest import Manifest
from f1common.settings import Settings
from f1common.tables import read_parquet_bytes
from ingestion import handler as handler_module
from ingestion.conftest import create_resources
from ingestion.landing import list_keys


@dataclass
class FakeContext:
    function_name: str = "gpi-test-ingestion"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:gpi-test-ingestion"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/gpi-test-ingestion"
    log_stream_name: str = "2026/11/26/[$LATEST]abc"


def test_schedule_route_lands_the_season_schedule(aws: tuple[Any, Any], settings: Settings) -> None:
    s3, dynamodb = aws
    result = handler_module.route({"kind": "schedule", "season": 2025}, settings=settings, s3=s3, dynamodb=dynamodb)

    assert result["kind"] == "schedule" and result["rows"]["schedule"] > 100  # 24 events, 5 sessions each
    [key] = list_keys(s3, settings.bucket, "dataset=schedule/")
    assert key.startswith("dataset=schedule/season=2025/schedule-")
    table = read_parquet_bytes(s3.get_object(Bucket=settings.bucket, Key=key)["Body"].read())
    rows = table.to_pylist()
    assert {r["season"] for r in rows} == {2025} and {r["round"] for r in rows} == set(range(1, 25))
    race1 = next(r for r in rows if r["round"] == 1 and r["session"] == "R")
    assert race1["event_name"] == "Australian Grand Prix"
    assert race1["session_start_utc"] == dt.datetime(2025, 3, 16, 4, 0, tzinfo=dt.timezone.utc)
    [manifest_key] = list_keys(s3, settings.bucket, MANIFEST_PREFIX)
    manifest = Manifest.from_json(s3.get_object(Bucket=settings.bucket, Key=manifest_key)["Body"].read())
    assert [f.dataset for f in manifest.files] == [Dataset.SCHEDULE] and manifest.run_id == result["run_id"]


def test_backfill_route_uses_the_settings_dump(aws: tuple[Any, Any], settings: Settings) -> None:
    s3, dynamodb = aws
    result = handler_module.route({"kind": "ergast_backfill"}, settings=settings, s3=s3, dynamodb=dynamodb)
    assert result["skipped"] is False and result["rows"]["ergast_status"] > 100
    again = handler_module.route('{"kind": "ergast_backfill"}', settings=settings, s3=s3, dynamodb=dynamodb)
    assert again["skipped"] is True and again["existing_run_id"] == result["run_id"]


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"kind": "schedule", "season": "soon"}, "season"),
        ({"kind": "schedule"}, "season"),
        ({"kind": "schedule", "season": 2025, "round": 3}, "round"),
        ({"kind": "telemetry"}, "kind"),
        ({"kind": "ergast_backfill", "dump": "/nonexistent/ergast"}, "dump"),
        ("{not json", "payload"),
        ([1, 2], "expected an object"),
        ({"season": 2023, "round": 1, "session": "R", "attempt": 0}, "attempt"),
    ],
)
def test_bad_events_name_the_field(aws: tuple[Any, Any], settings: Settings, event: Any, field: str) -> None:
    s3, dynamodb = aws
    with pytest.raises(BadRequest, match=field):
        handler_module.route(event, settings=settings, s3=s3, dynamodb=dynamodb)
    assert list_keys(s3, settings.bucket) == []


@pytest.fixture
def moto_server(aws_env: None, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("GPI_STAGE", settings.stage)
    monkeypatch.setenv("GPI_F1DATA_DIR", str(settings.f1data_dir))
    monkeypatch.setenv("GPI_FASTF1_CACHE_DIR", str(settings.fastf1_cache_dir))
    monkeypatch.setenv("GPI_FASTF1_OFFLINE", "1")
    clear_client_cache()
    try:
        yield endpoint
    finally:
        clear_client_cache()
        server.stop()


def test_handler_against_a_moto_server(moto_server: str, settings: Settings) -> None:
    s3 = boto3.client("s3", region_name=settings.aws_region, endpoint_url=moto_server)
    dynamodb = boto3.client("dynamodb", region_name=settings.aws_region, endpoint_url=moto_server)
    create_resources(s3, dynamodb, settings)
    event = {"season": 2018, "round": 4, "session": "R", "reason": "manual"}

    result = handler_module.handler(event, FakeContext())  # type: ignore[arg-type]

    assert result["status"] == "ingested" and result["missing"] == ["weather"]
    assert result["rows"]["laps"] == 848 and result["session"] == {"season": 2018, "round": 4, "session": "R"}
    [manifest_key] = list_keys(s3, settings.bucket, MANIFEST_PREFIX)
    assert result["run_id"] in manifest_key
    item = dynamodb.get_item(TableName=settings.table, Key={"pk": {"S": "2018-04-R"}})["Item"]
    assert item["status"]["S"] == "INGESTED" and item["run_id"]["S"] == result["run_id"]

    duplicate = handler_module.handler(event, FakeContext())  # type: ignore[arg-type]
    assert duplicate["status"] == "duplicate" and duplicate["run_id"] == result["run_id"]
    assert len(list_keys(s3, settings.bucket, "dataset=")) == 4
