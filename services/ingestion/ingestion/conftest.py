"""Fixtures of the ingestion tests: the shared F1 data (skip when absent) and AWS emulated by moto."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from f1common.names import CALENDAR_KEY
from f1common.settings import Settings
from f1common.testing import f1data_dir_or_skip


@pytest.fixture(scope="session")
def f1data_dir() -> Path:
    return f1data_dir_or_skip()


@pytest.fixture(scope="session")
def settings(f1data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings over a writable copy of the shared FastF1 cache (one copy per test session), offline."""
    return Settings(
        stage="test",
        f1data_dir=f1data_dir,
        fastf1_cache_dir=tmp_path_factory.mktemp("fastf1") / "cache",
        fastf1_offline=True,
        aws_region="eu-west-1",
        aws_endpoint_url=None,
    )


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "GPI_AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")


def create_resources(s3: Any, dynamodb: Any, settings: Settings) -> None:
    s3.create_bucket(Bucket=settings.bucket, CreateBucketConfiguration={"LocationConstraint": settings.aws_region})
    dynamodb.create_table(
        TableName=settings.table,
        KeySchema=[{"AttributeName": CALENDAR_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": CALENDAR_KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def aws(aws_env: None, settings: Settings) -> Iterator[tuple[Any, Any]]:
    """(s3, dynamodb) clients of an in-process moto with the landing bucket and calendar table."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3", region_name=settings.aws_region)
        dynamodb = boto3.client("dynamodb", region_name=settings.aws_region)
        create_resources(s3, dynamodb, settings)
        yield s3, dynamodb
