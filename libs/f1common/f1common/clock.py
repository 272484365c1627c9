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
