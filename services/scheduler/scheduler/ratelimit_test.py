import datetime as dt

import pytest

from f1common.clock import SimulatedClock
from scheduler.conftest import max_in_window, utc
from scheduler.ratelimit import JOLPICA, LIVE_TIMING, SESSION_COST, RateLimiter, TokenBucket, fastf1_limiter

START = utc(2025, 1, 1)


def test_bucket_keeps_four_calls_per_second_in_every_window() -> None:
    limiter = RateLimiter({"api": TokenBucket.for_limit(4, dt.timedelta(seconds=1), burst=2, start=START)})
    times = [limiter.reserve({"api": 1}, not_before=START) for _ in range(40)]
    assert times == sorted(times)
    assert times[:2] == [START, START]  # the burst
    assert max_in_window(times, [1] * 40, dt.timedelta(seconds=1)) <= 4
    # 2 burst + 2 calls/s: 40 calls need 19 s
    assert times[-1] - START == dt.timedelta(seconds=19)


def test_fastf1_limits_hold_in_every_sliding_hour_for_a_season_backfill() -> None:
    limiter = fastf1_limiter(start=START, clock=lambda: START)
    times = [limiter.reserve(SESSION_COST, not_before=START) for _ in range(120)]
    hour = dt.timedelta(hours=1)
    assert max_in_window(times, [SESSION_COST[LIVE_TIMING]] * 120, hour) <= 500
    assert max_in_window(times, [SESSION_COST[JOLPICA]] * 120, hour) <= 200
    # about 22 sessions an hour once the burst is used: a 120-session season takes ~5 h
    assert dt.timedelta(hours=4) < times[-1] - START < dt.timedelta(hours=6)


def test_idle_time_refills_the_bucket_up_to_its_capacity() -> None:
    bucket = TokenBucket.for_limit(500, dt.timedelta(hours=1), burst=50, start=START)
    bucket.consume(50, START)
    assert bucket.level(START) == 0
    assert bucket.available_at(10, START) == START + dt.timedelta(seconds=80)  # 450 per hour = 1 per 8 s
    assert bucket.level(START + dt.timedelta(days=1)) == 50
    with pytest.raises(ValueError, match="can never fit"):
        bucket.available_at(51, START)


def test_acquire_sleeps_on_the_injected_clock() -> None:
    clock = SimulatedClock(START)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(dt.timedelta(seconds=seconds))

    limiter = RateLimiter(
        {"api": TokenBucket.for_limit(4, dt.timedelta(seconds=1), burst=2, start=START)}, clock=clock, sleep=sleep
    )
    for _ in range(4):
        limiter.acquire({"api": 1})
    assert slept == [0.5, 0.5]
    assert clock() == START + dt.timedelta(seconds=1)


def test_unknown_bucket_and_bad_burst_are_named() -> None:
    limiter = fastf1_limiter(start=START)
    with pytest.raises(KeyError, match="unknown rate-limit buckets \\['ergast'\\]"):
        limiter.reserve({"ergast": 1})
    with pytest.raises(ValueError, match="burst must be between 1 and 3"):
        TokenBucket.for_limit(4, dt.timedelta(seconds=1), burst=4, start=START)
