"""Fixtures of the local stack's tests: the embedded stack in-process (moto) and the real FastF1 schedules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from f1common.datasets import ScheduleRow
from f1common.schedule import load_schedule
from f1common.settings import Settings
from f1common.testing import f1data_dir_or_skip
from grandprix_local.harness import EmbeddedStack, embedded_stack
from scheduler.actions import Clients
from scheduler.schedules import ScheduleTarget


@pytest.fixture(scope="session")
def fastf1_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A writable FastF1 cache for this test session (a copy of the shared one, made on first use)."""
    return tmp_path_factory.mktemp("fastf1") / "cache"


@pytest.fixture(scope="session")
def season_rows(fastf1_cache: Path) -> dict[int, list[ScheduleRow]]:
    """The real 2025 and 2026 schedules from the shared FastF1 cache."""
    settings = Settings(f1data_dir=f1data_dir_or_skip(), fastf1_cache_dir=fastf1_cache, fastf1_offline=True)
    return {season: load_schedule(season, settings) for season in (2025, 2026)}


@pytest.fixture
def stack(tmp_path: Path, fastf1_cache: Path) -> Iterator[EmbeddedStack]:
    """The embedded stack with moto in-process (the platform's resources, provisioned as for the demo)."""
    with embedded_stack(
        tmp_path, f1data_dir=f1data_dir_or_skip(), fastf1_cache=fastf1_cache, in_process=True, notifications=False
    ) as made:
        yield made


@pytest.fixture
def settings(stack: EmbeddedStack) -> Settings:
    return stack.settings


@pytest.fixture
def clients(settings: Settings) -> Clients:
    return Clients.from_settings(settings)


@pytest.fixture
def target(settings: Settings, clients: Clients) -> ScheduleTarget:
    return ScheduleTarget.from_settings(settings, clients.sqs)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)
