import re

import pytest
from pydantic import ValidationError

from f1common.sessions import CANONICAL_KEY_PATTERN, SessionId, SessionType


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("R", SessionType.RACE),
        ("race", SessionType.RACE),
        ("Qualifying", SessionType.QUALIFYING),
        ("Sprint Qualifying", SessionType.SPRINT_QUALIFYING),
        ("sprint_shootout", SessionType.SPRINT_SHOOTOUT),
        ("SS", SessionType.SPRINT_SHOOTOUT),
        ("Practice 2", SessionType.PRACTICE_2),
        ("fp3", SessionType.PRACTICE_3),
        ("Sprint", SessionType.SPRINT),
    ],
)
def test_session_type_accepts_codes_names_and_aliases(raw: str, expected: SessionType) -> None:
    assert SessionType.parse(raw) is expected
    assert SessionType.parse(expected.fastf1_name) is expected


def test_session_id_key_round_trip() -> None:
    sid = SessionId.model_validate({"season": 2023, "round": 1, "session": "Race"})
    assert sid.key == "2023-01-R"
    assert SessionId.parse("2023-01-R") == sid
    assert SessionId.parse("2024-5-SQ") == SessionId(season=2024, round=5, session=SessionType.SPRINT_QUALIFYING)
    assert str(SessionId.model_validate({"season": 2023, "round": 4, "session": "Sprint Shootout"})) == "2023-04-SS"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"season": 2023, "round": 1, "session": "Warmup"}, "unknown session type 'Warmup'"),
        ({"season": 1949, "round": 1, "session": "R"}, "season"),
        ({"season": 2023, "round": 99, "session": "R"}, "round"),
        ({"season": 2023, "round": 0, "session": "R"}, "round"),
        ({"season": 2023, "round": 1}, "session"),
        ({"season": 2023, "round": 1, "session": "R", "lap": 3}, "lap"),
    ],
)
def test_bad_session_identities_get_clear_errors(fields: dict[str, object], message: str) -> None:
    with pytest.raises((ValidationError, ValueError), match=message):
        SessionId.model_validate(fields)


@pytest.mark.parametrize("key", ["2023-R", "23-01-R", "2023-01-XX", "", "2023-01-"])
def test_bad_session_keys_are_rejected(key: str) -> None:
    with pytest.raises(ValueError, match="session"):
        SessionId.parse(key)


def test_race_like_and_qualifying_like() -> None:
    assert SessionType.SPRINT.is_race_like and SessionType.RACE.is_race_like
    assert not SessionType.QUALIFYING.is_race_like
    assert SessionType.SPRINT_SHOOTOUT.is_qualifying_like


def test_the_canonical_key_pattern_matches_the_keys_session_ids_write_and_nothing_else() -> None:
    for session in SessionType:
        assert re.fullmatch(CANONICAL_KEY_PATTERN, SessionId(season=2024, round=7, session=session).key)
    for key in ("2024-7-R", "2024-07-X", "2024-07-r", "2024-07-R' or '1", "24-07-R", "2024-07-FP4"):
        assert not re.fullmatch(CANONICAL_KEY_PATTERN, key), key
