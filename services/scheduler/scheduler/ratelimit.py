"""Token buckets that plan call times within FastF1's API limits (with an injectable clock)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from f1common.clock import Clock, utc_now


@dataclass
class TokenBucket:
    """`capacity` tokens, refilled at `rate` tokens per second.

    Calls within any window of W seconds never exceed `capacity + rate * W`, so a bucket that keeps
    `limit` calls per `interval` must satisfy `capacity + rate * interval <= limit`
    (see :meth:`for_limit`).
    """

    capacity: float
    rate: float
    tokens: float
    updated: dt.datetime

    @classmethod
    def for_limit(cls, calls: int, interval: dt.timedelta, burst: int, start: dt.datetime) -> TokenBucket:
        """A bucket that never exceeds `calls` per `interval` in any sliding window, allowing `burst`."""
        seconds = interval.total_seconds()
        if not 0 < burst < calls:
            raise ValueError(f"burst must be between 1 and {calls - 1}, got {burst}")
        return cls(capacity=burst, rate=(calls - burst) / seconds, tokens=burst, updated=start)

    def level(self, at: dt.datetime) -> float:
        """Tokens available at `at` (not before the last consumption)."""
        elapsed = max((at - self.updated).total_seconds(), 0.0)
        return min(self.capacity, self.tokens + elapsed * self.rate)

    def available_at(self, cost: float, not_before: dt.datetime) -> dt.datetime:
        """Earliest instant >= `not_before` at which `cost` tokens are available."""
        if cost > self.capacity:
            raise ValueError(f"a cost of {cost} can never fit a bucket of capacity {self.capacity}")
        start = max(not_before, self.updated)
        missing = cost - self.level(start)
        if missing <= 0:
            return start
        return start + dt.timedelta(seconds=missing / self.rate)

    def consume(self, cost: float, at: dt.datetime) -> None:
        at = max(at, self.updated)
        level = self.level(at)
        if level + 1e-9 < cost:
            raise ValueError(f"only {level:.2f} tokens at {at.isoformat()}, {cost} requested")
        self.tokens = max(level - cost, 0.0)
        self.updated = at


class RateLimiter:
    """Several named buckets that all must allow a call (e.g. per-second and per-hour limits)."""

    def __init__(
        self,
        buckets: Mapping[str, TokenBucket],
        clock: Clock = utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.buckets = dict(buckets)
        self.clock = clock
        self.sleep = sleep

    def reserve(self, costs: Mapping[str, float], not_before: dt.datetime | None = None) -> dt.datetime:
        """Books the earliest instant at which every bucket allows its cost, and returns it."""
        unknown = sorted(set(costs) - set(self.buckets))
        if unknown:
            raise KeyError(f"unknown rate-limit buckets {unknown}; known: {sorted(self.buckets)}")
        when = not_before or self.clock()
        for _ in range(len(self.buckets) + 1):  # each pass can only move `when` later; stable after one
            later = max((self.buckets[name].available_at(cost, when) for name, cost in costs.items()), default=when)
            if later == when:
                break
            when = later
        for name, cost in costs.items():
            self.buckets[name].consume(cost, when)
        return when

    def acquire(self, costs: Mapping[str, float]) -> dt.datetime:
        """Waits (with the injected sleep) until the calls are allowed; returns the instant booked."""
        when = self.reserve(costs)
        wait = (when - self.clock()).total_seconds()
        if wait > 0:
            self.sleep(wait)
        return when


# FastF1's limits: 4 calls/s and 500 calls/h for the live-timing API, 200 calls/h for Jolpica (Ergast).
LIVE_TIMING = "livetiming"
JOLPICA = "jolpica"
# Calls one session ingestion makes (laps, results, weather, messages; measured 8-16 live-timing and
# 1-2 Jolpica calls on the 2025 cache), rounded up for headroom.
SESSION_COST: dict[str, float] = {LIVE_TIMING: 20, JOLPICA: 3}


def fastf1_limiter(
    start: dt.datetime, clock: Clock = utc_now, sleep: Callable[[float], None] = time.sleep
) -> RateLimiter:
    """Buckets that keep a backfill under FastF1's hourly limits in every sliding hour."""
    hour = dt.timedelta(hours=1)
    return RateLimiter(
        {
            LIVE_TIMING: TokenBucket.for_limit(500, hour, burst=50, start=start),
            JOLPICA: TokenBucket.for_limit(200, hour, burst=20, start=start),
        },
        clock=clock,
        sleep=sleep,
    )
