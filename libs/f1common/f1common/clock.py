"""Time: the one UTC clock and the one ISO-8601 format of stored timestamps."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

Clock = Callable[[], dt.datetime]

# Timestamps stored as strings (calendar items, idempotency records): second precision, UTC, `Z` suffix.
ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_now() -> dt.datetime:
    """The current instant, aware, in UTC (the default :data:`Clock` everywhere)."""
    return dt.datetime.now(dt.UTC)


def utc_iso(value: dt.datetime) -> str:
    """ISO-8601 UTC string in :data:`ISO_FORMAT` (`2025-03-16T06:00:00Z`); a naive datetime is an error."""
    if value.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no time zone; stored timestamps must be UTC")
    return value.astimezone(dt.UTC).strftime(ISO_FORMAT)


class SimulatedClock:
    """A clock that only moves when told to (forwards only)."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the simulated clock needs an aware (UTC) start time")
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, when: dt.datetime) -> None:
        if when < self.now:
            raise ValueError(f"the simulated clock cannot go back from {self.now.isoformat()} to {when.isoformat()}")
        self.now = when

    def advance(self, delta: dt.timedelta) -> None:
        self.set(self.now + delta)
