"""Test support shared by every part's tests (never imported by service code)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from f1common.settings import F1DATA_ENV, Settings


def f1data_dir_or_skip() -> Path:
    """For tests: the shared real data directory; skips the test without it, unless CI requires it.

    CI sets `GPI_REQUIRE_F1DATA=1`, so missing data fails there instead of silently skipping.
    """
    path = Settings().f1data_dir
    if path is not None and path.is_dir():
        return path
    reason = f"the shared F1 data is not available (set {F1DATA_ENV} to the f1data directory)"
    if os.environ.get("GPI_REQUIRE_F1DATA") == "1":
        pytest.fail(reason)
    pytest.skip(reason)
