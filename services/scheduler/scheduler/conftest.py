"""Fixtures: moto in-process AWS with the calendar table, schedule group and DLQ; the real FastF1 schedules."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from f1common.clients import clear_client_cache
from f1common.datasets import ScheduleRow
from f1common.names import CALENDAR_KEY
from f1common.race_calendar import RaceCalendar
from f1common.schedule import load_schedule
from f1common.settings import Settings
from f1common.testing import f1data_dir_or_skip
from scheduler.actions import Clients
from scheduler.planning import SchedulingPolicy
from scheduler.schedules import ScheduleTarget

REGION = "eu-west-1"


@pytest.fixture(scope="session")
def fastf1_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A writable FastF1 cache for this test session (a copy of the shared one, made on first use)."""
    return tmp_path_factory.mktemp("fastf1") / "cache"


def require_f1data() -> None:
    f1data_dir_or_skip()


@pytest.fixture
def settings(fastf1_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in ("AWS_ENDPOINT_URL", "GPI_AWS_ENDPOINT_URL", "GPI_INGESTION_FUNCTION_ARN", "GPI_INGESTION_DLQ_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("GPI_STAGE", "test")
    monkeypatch.setenv("GPI_FASTF1_CACHE_DIR", str(fastf1_cache))
    monkeypatch.setenv("GPI_FASTF1_OFFLINE", "1")
    return Settings()


@pytest.fixture(scope="session")
def season_rows(fastf1_cache: Path) -> dict[int, list[ScheduleRow]]:
    """The real 2025 and 2026 schedules from the shared FastF1 cache."""
    require_f1data()
    settings = Settings(fastf1_cache_dir=fastf1_cache, fastf1_offline=True)
    return {season: load_schedule(season, settings) for season in (2025, 2026)}


@pytest.fixture
def clients(settings: Settings) -> Iterator[Clients]:
    """Fresh moto backend with the calendar table, the schedule group and the dead-letter queue."""
    clear_client_cache()
    with mock_aws():
        made = make_clients()
        made.dynamodb.create_table(
            TableName=settings.table,
            KeySchema=[{"AttributeName": CALENDAR_KEY, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": CALENDAR_KEY, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        made.scheduler.create_schedule_group(Name=settings.group)
        made.sqs.create_queue(QueueName=settings.dlq)
        yield made
    clear_client_cache()


def make_clients(writes: threading.Lock | None = None) -> Clients:
    """Clients of the moto backend; with `writes`, DynamoDB writes hold that lock (:class:`AtomicWrites`)."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    return Clients(
        dynamodb=dynamodb if writes is None else AtomicWrites(dynamodb, writes),
        scheduler=boto3.client("scheduler", region_name=REGION),
        sqs=boto3.client("sqs", region_name=REGION),
    )


class AtomicWrites:
    """A DynamoDB client whose writes are atomic against those of every client sharing its lock, as DynamoDB's
    conditional writes are: moto's in-process backend checks a condition and writes in two steps, so two
    threads could both pass one condition, which real DynamoDB never lets happen."""

    WRITES = frozenset({"put_item", "update_item", "delete_item", "transact_write_items"})

    def __init__(self, client: Any, lock: threading.Lock) -> None:
        self._client, self._lock = client, lock

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if name not in self.WRITES:
            return method

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return method(*args, **kwargs)

        return locked


@pytest.fixture
def table(settings: Settings, clients: Clients) -> RaceCalendar:
    return RaceCalendar(clients.dynamodb, settings.table)


@pytest.fixture
def target(settings: Settings, clients: Clients) -> ScheduleTarget:
    return ScheduleTarget.from_settings(settings, clients.sqs)


@pytest.fixture
def policy(settings: Settings) -> SchedulingPolicy:
    return SchedulingPolicy.from_settings(settings)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


def max_in_window(times: list[dt.datetime], costs: list[float], window: dt.timedelta) -> float:
    """Largest total cost of calls inside any sliding window [t, t + window)."""
    best = 0.0
    for i, start in enumerate(times):
        best = max(best, sum(c for t, c in zip(times[i:], costs[i:], strict=True) if t < start + window))
    return best
