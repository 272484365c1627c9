"""Fixtures of the reliability tests: the embedded stack (see `reliability.harness`), one per test.

The FastF1 cache copy is shared by the tests of a process (copying it per test costs time for nothing).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from f1common.settings import F1DATA_ENV, Settings
from f1common.testing import f1data_dir_or_skip
from grandprix_local.pipeline import LocalPipeline, environment
from grandprix_local.stack import moto_server
from reliability.harness import Stack


@pytest.fixture(scope="session")
def fastf1_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fastf1") / "cache"


@pytest.fixture
def stack(tmp_path: Path, fastf1_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    data = f1data_dir_or_skip()
    warehouse = tmp_path / "warehouse.duckdb"
    for name, value in environment(tmp_path, warehouse).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(F1DATA_ENV, str(data))
    monkeypatch.setenv("GPI_FASTF1_CACHE_DIR", str(fastf1_cache))
    with moto_server():
        settings = Settings()
        pipeline = LocalPipeline(settings, progress=lambda line: None)
        pipeline.enable_notifications()
        yield Stack(settings, pipeline, warehouse)
