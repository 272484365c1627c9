"""Pure normalisation helpers, on real sessions where it matters (the session clock)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest

from f1common.datasets import Dataset
from f1common.schedule import load_schedule
from f1common.sessions import SessionId
from f1common.settings import Settings
from ingestion.ingest import load_fastf1_session
from ingestion.normalize import DataNotAvailable, _bool, _ms, _str, match_clocks, session_t0_utc, session_tables


@pytest.mark.parametrize("key", ["2023-04-SS", "2019-14-Q", "2025-01-Q"])
def test_session_clock_puts_a_qualifying_start_on_its_scheduled_minute(key: str, settings: Settings) -> None:
    """Qualifying-type sessions start on the scheduled minute: the recovered clock must agree (±2 s)."""
    session_id = SessionId.parse(key)
    session = load_fastf1_session(session_id, settings)
    t0 = session_t0_utc(session)
    assert t0 is not None
    started = t0 + session.session_start_time
    scheduled = next(
        r.session_start_utc
        for r in load_schedule(session_id.season, settings)
        if r.round == session_id.round and r.session == session_id.session.code
    )
    assert scheduled is not None
    assert abs(started.to_pydatetime() - scheduled) < dt.timedelta(seconds=2)


def test_match_clocks_needs_agreeing_events() -> None:
    t0 = pd.Timestamp("2023-03-05 14:01:00.960", tz="UTC")
    session_times = pd.Series(pd.to_timedelta([100.2, 400.7, 900.1, 1500.5], unit="s"))
    utc = (t0 + session_times).dt.floor("s").dt.tz_localize(None)  # race control: whole seconds, naive UTC
    found = match_clocks(session_times, utc)
    assert found is not None and abs(found - t0) < pd.Timedelta(seconds=1)
    # Two events cannot establish a clock: UTC columns stay null rather than guessed.
    assert match_clocks(session_times[:2], utc[:2]) is None
    assert match_clocks(pd.Series([], dtype="timedelta64[ns]"), utc) is None


def test_fastf1_placeholder_strings_are_nulls() -> None:
    got = _str(pd.Series(["max_verstappen", "nan", "None", "", None, float("nan"), 44]))
    assert got.tolist()[:1] == ["max_verstappen"]
    assert got.isna().tolist() == [False, True, True, True, True, True, False]
    assert got.tolist()[-1] == "44"


def test_converters_keep_nulls_typed() -> None:
    assert _ms(pd.Series(pd.to_timedelta(["0:01:39.0194", None]))).tolist() == [99019, pd.NA]
    assert _str(pd.Series(["", " VER ", None, float("nan"), 44])).tolist() == [pd.NA, "VER", pd.NA, pd.NA, "44"]
    assert _bool(pd.Series([True, None, float("nan"), False], dtype=object)).tolist() == [True, pd.NA, pd.NA, False]


def test_a_session_without_laps_is_not_available(settings: Settings) -> None:
    session_id = SessionId.parse("2025-10-R")
    session: Any = load_fastf1_session(session_id, settings)
    with pytest.raises(DataNotAvailable, match="2025-10-R"):
        session_tables(session, session_id)


def test_older_timing_data_without_driver_names_still_lands(settings: Settings) -> None:
    """2020 Styrian GP FP2 in the cache has car numbers but no driver list: laps land, names stay null."""
    session_id = SessionId.parse("2020-05-FP2")
    tables = session_tables(load_fastf1_session(session_id, settings), session_id)
    laps = tables.tables[Dataset.LAPS]
    assert laps.num_rows == 535
    assert laps.column("driver").null_count == laps.num_rows  # unknown, not invented
    assert laps.column("driver_number").null_count == 0
    assert len(set(laps.column("driver_number").to_pylist())) == 20
