import datetime as dt

import pytest

from f1common.clock import ISO_FORMAT, SimulatedClock, utc_iso, utc_now


def utc(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, tzinfo=dt.UTC)


def test_simulated_clock_only_moves_forward() -> None:
    clock = SimulatedClock(utc(2025, 1, 1))
    with pytest.raises(ValueError, match="cannot go back"):
        clock.set(utc(2024, 12, 31))
    with pytest.raises(ValueError, match="aware"):
        SimulatedClock(dt.datetime(2025, 1, 1))


def test_stored_timestamps_are_utc_iso() -> None:
    assert ISO_FORMAT == "%Y-%m-%dT%H:%M:%SZ"
    cest = dt.timezone(dt.timedelta(hours=2))
    assert utc_iso(dt.datetime(2025, 3, 16, 8, 0, 30, 999, tzinfo=cest)) == "2025-03-16T06:00:30Z"
    with pytest.raises(ValueError, match="no time zone"):
        utc_iso(dt.datetime(2025, 3, 16))
    assert utc_now().tzinfo is dt.UTC
