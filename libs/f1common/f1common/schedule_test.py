import datetime as dt
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from f1common.schedule import SESSION_DURATIONS, ScheduleError, expected_end, load_schedule, schedule_rows
from f1common.sessions import SessionType
from f1common.settings import Settings
from f1common.testing import f1data_dir_or_skip

UTC = dt.UTC


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    base = Settings(f1data_dir=f1data_dir_or_skip())
    cache: Path = tmp_path_factory.mktemp("fastf1") / "cache"
    return base.model_copy(update={"fastf1_cache_dir": cache, "fastf1_offline": True})


def test_2025_schedule_has_24_rounds_with_sprints(settings: Settings) -> None:
    rows = load_schedule(2025, settings)
    rounds = sorted({r.round for r in rows})
    assert rounds == list(range(1, 25))
    per_round = Counter(r.round for r in rows)
    assert set(per_round.values()) == {5}
    sprint_rounds = sorted({r.round for r in rows if r.session == "S"})
    assert sprint_rounds == sorted({r.round for r in rows if r.session == "SQ"})
    assert 2 in sprint_rounds and 6 in sprint_rounds and len(sprint_rounds) == 6
    australia_race = next(r for r in rows if r.round == 1 and r.session == "R")
    assert australia_race.event_name == "Australian Grand Prix"
    assert australia_race.session_name == "Race"
    assert australia_race.session_start_utc == dt.datetime(2025, 3, 16, 4, 0, tzinfo=UTC)
    assert australia_race.event_date == dt.date(2025, 3, 16)
    assert australia_race.country == "Australia"
    assert australia_race.event_format == "conventional"
    assert expected_end(australia_race) == dt.datetime(2025, 3, 16, 6, 0, tzinfo=UTC)
    # ordered by round, then start time
    keys = [(r.round, r.session_start_utc) for r in rows]
    assert keys == sorted(keys)


def test_2026_schedule_has_23_rounds(settings: Settings) -> None:
    rows = load_schedule(2026, settings)
    assert sorted({r.round for r in rows}) == list(range(1, 24))
    assert all(r.session_start_utc is not None and r.session_start_utc.tzinfo == UTC for r in rows)


def test_2023_sprint_shootout_and_2020_empty_slots(settings: Settings) -> None:
    rows_2023 = load_schedule(2023, settings)
    baku = {r.session for r in rows_2023 if r.round == 4}
    assert baku == {"FP1", "Q", "SS", "S", "R"}
    rows_2020 = load_schedule(2020, settings)
    # two 2020 events had only four sessions listed; the empty slots are skipped, not landed
    assert len(rows_2020) == 17 * 5 - 2
    assert all(r.session_name for r in rows_2020)


def test_rows_from_records_skip_unnamed_sessions_and_keep_unknown_start() -> None:
    events = [
        {
            "RoundNumber": 3,
            "EventName": "Test Grand Prix",
            "Country": "Nowhere",
            "Location": float("nan"),
            "EventDate": pd.Timestamp("2025-04-06"),
            "EventFormat": "conventional",
            "Session1": "Practice 1",
            "Session1DateUtc": pd.Timestamp("2025-04-04 02:30:00"),
            "Session2": "",
            "Session2DateUtc": pd.NaT,
            "Session3": "Qualifying",
            "Session3DateUtc": pd.NaT,
            "Session4": None,
            "Session5": "Race",
            "Session5DateUtc": pd.Timestamp("2025-04-06 05:00:00"),
            "F1ApiSupport": True,
        },
        {"RoundNumber": 0, "EventName": "Pre-Season Testing", "Session1": "Day 1"},
    ]
    rows = schedule_rows(2025, events)
    assert [r.session for r in rows] == ["FP1", "R", "Q"]  # unknown start sorts last
    assert rows[0].location is None
    assert rows[0].session_start_utc == dt.datetime(2025, 4, 4, 2, 30, tzinfo=UTC)
    assert rows[2].session_start_utc is None
    assert expected_end(rows[2]) is None


def test_unknown_session_name_is_named_in_the_error() -> None:
    events = [{"RoundNumber": 1, "EventName": "X Grand Prix", "Session1": "Warmup"}]
    with pytest.raises(ScheduleError, match=r"round 1 \(X Grand Prix\) Session1: unknown session type 'Warmup'"):
        schedule_rows(2025, events)


def test_every_session_type_has_a_duration() -> None:
    assert set(SESSION_DURATIONS) == set(SessionType)
    assert SESSION_DURATIONS[SessionType.RACE] == dt.timedelta(hours=2)
    assert SESSION_DURATIONS[SessionType.SPRINT_QUALIFYING] == dt.timedelta(minutes=45)
