"""Test support shared by every part's tests (never imported by service code)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest

from f1common.events import CalendarItem, CalendarStatus
from f1common.sessions import SessionType
from f1common.settings import F1DATA_ENV, Settings

START = dt.datetime(2025, 5, 4, 20, 0, tzinfo=dt.UTC)  # a session start for made-up calendar items


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


def calendar_item(round_: int, session: SessionType, status: CalendarStatus, **extra: Any) -> CalendarItem:
    """A made-up 2025 calendar item starting at :data:`START` (for tests of what reads the calendar)."""
    key = f"2025-{round_:02d}-{session.value}"
    return CalendarItem(
        pk=key,
        season=2025,
        round=round_,
        session=session,
        event_name="Miami Grand Prix",
        session_name=session.fastf1_name,
        start_utc=START,
        end_utc=START + dt.timedelta(hours=2),
        status=status,
        **extra,
    )
