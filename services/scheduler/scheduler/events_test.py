"""Issue 14 §6: the scheduler's events are parsed strictly and refused with a bounded message."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from f1common.errors import MESSAGE_LIMIT
from f1common.events import BadRequest
from scheduler.events import BackfillEvent, SyncEvent, parse_event


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"action": "sync", "season": "2023"}, "season"),
        ({"action": "sync", "season": True}, "season"),
        ({"action": "sync", "seasons": [2023, "2024"]}, "seasons"),
        ({"action": "schedule", "lookahead_minutes": "60"}, "lookahead_minutes"),
        ({"action": "backfill", "from_season": 2023, "to_season": 2024.0}, "to_season"),
        ({"action": "backfill", "from_season": 2023, "to_season": 2024, "sync": "yes"}, "sync"),
        ({"action": "schedule", "now": "2025-03-16T08:00:00"}, "time zone"),
    ],
)
def test_loose_values_are_refused(event: dict[str, Any], field: str) -> None:
    with pytest.raises(BadRequest, match=field):
        parse_event(event)


def test_strict_events_parse() -> None:
    assert parse_event({"action": "sync", "season": 2023}) == SyncEvent(action="sync", season=2023)
    backfill = parse_event({"action": "backfill", "from_season": 2023, "to_season": 2024, "sessions": ["R"]})
    assert isinstance(backfill, BackfillEvent) and backfill.to_season == 2024


def test_a_sync_covers_the_seasons_named_and_the_current_one_when_asked() -> None:
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)

    def seasons(event: dict[str, Any]) -> list[int]:
        parsed = parse_event(event)
        assert isinstance(parsed, SyncEvent)
        return parsed.all_seasons(now)

    assert seasons({"action": "sync"}) == [2026]
    assert seasons({"action": "sync", "seasons": [2024, 2025]}) == [2024, 2025]
    assert seasons({"action": "sync", "seasons": [2025, 2024], "include_current": True}) == [2024, 2025, 2026]
    with pytest.raises(BadRequest, match="include_current"):
        parse_event({"action": "sync", "include_current": "yes"})


@pytest.mark.parametrize(
    "event",
    [{"action": "x" * 5_000_000}, {"action": "sync", "x" * 5_000_000: 1}, '{"action": "sync"}', ["x" * 5_000_000]],
    ids=["action", "key", "double-encoded", "list"],
)
def test_refusals_quote_a_bounded_prefix(event: Any) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_event(event)
    assert len(str(caught.value)) < 2 * MESSAGE_LIMIT + 200
