"""Schedule landing: a new run only when the season's schedule changed (every calendar sync asks for one)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from f1common.datasets import ScheduleRow
from f1common.layout import MANIFEST_PREFIX
from f1common.schedule import load_schedule
from f1common.settings import Settings
from ingestion import schedule_landing
from ingestion.landing import list_keys
from ingestion.schedule_landing import land_schedule, marker_key


def manifests(s3: Any, settings: Settings) -> int:
    return len(list_keys(s3, settings.bucket, MANIFEST_PREFIX))


def moved(rows: list[ScheduleRow], hours: int) -> list[ScheduleRow]:
    """The real 2025 schedule with its first session moved by `hours` (a schedule change)."""
    first = rows[0]
    start = first.session_start_utc + dt.timedelta(hours=hours) if first.session_start_utc else None
    return [first.model_copy(update={"session_start_utc": start}), *rows[1:]]


def test_an_unchanged_schedule_is_landed_once(aws: tuple[Any, Any], settings: Settings) -> None:
    s3, _ = aws
    first = land_schedule(2025, s3=s3, settings=settings)
    again = land_schedule(2025, s3=s3, settings=settings)

    assert not first.skipped and first.rows > 100
    assert again.skipped and again.run_id == first.run_id and again.digest == first.digest
    assert manifests(s3, settings) == 1


def test_a_changed_schedule_lands_again_even_back_to_an_earlier_version(
    aws: tuple[Any, Any], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3, _ = aws
    real = load_schedule(2025, settings)
    versions = iter([real, moved(real, 2), real])
    monkeypatch.setattr(schedule_landing, "load_schedule", lambda season, settings: next(versions))

    landings = [land_schedule(2025, s3=s3, settings=settings) for _ in range(3)]

    assert [landing.skipped for landing in landings] == [False, False, False]  # A, B, then A again: latest wins
    assert landings[0].digest == landings[2].digest != landings[1].digest
    assert manifests(s3, settings) == 3


def test_a_landing_that_dies_before_its_marker_lands_again(
    aws: tuple[Any, Any], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3, _ = aws
    real_put = s3.put_object

    def put_object(**kwargs: Any) -> Any:
        if kwargs["Key"] == marker_key(2025):
            raise ConnectionError("killed after the manifest")
        return real_put(**kwargs)

    monkeypatch.setattr(s3, "put_object", put_object)
    with pytest.raises(ConnectionError):
        land_schedule(2025, s3=s3, settings=settings)
    monkeypatch.setattr(s3, "put_object", real_put)
    retried = land_schedule(2025, s3=s3, settings=settings)

    assert not retried.skipped and manifests(s3, settings) == 2  # the loader merges the same rows twice: no loss
    assert land_schedule(2025, s3=s3, settings=settings).skipped
