"""Fixtures of the reliability tests: the embedded stack (`grandprix_local.harness`), one per test.

The FastF1 cache copy is shared by the tests of a process (copying it per test costs time for nothing).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from f1common.testing import f1data_dir_or_skip
from grandprix_local.harness import EmbeddedStack, embedded_stack


@pytest.fixture(scope="session")
def fastf1_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fastf1") / "cache"


@pytest.fixture
def stack(tmp_path: Path, fastf1_cache: Path) -> Iterator[EmbeddedStack]:
    with embedded_stack(tmp_path, f1data_dir=f1data_dir_or_skip(), fastf1_cache=fastf1_cache) as stack:
        yield stack
