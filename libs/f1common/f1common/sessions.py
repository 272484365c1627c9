"""Session identity: season, round and session type, with canonical short codes."""

from __future__ import annotations

import re
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from f1common.errors import bounded

FIRST_SEASON = 1950
LAST_SEASON = 2100
MAX_ROUND = 30


class SessionType(str, Enum):
    """A session of a race weekend. The value is the canonical short code used in keys and tables."""

    PRACTICE_1 = "FP1"
    PRACTICE_2 = "FP2"
    PRACTICE_3 = "FP3"
    SPRINT_SHOOTOUT = "SS"
    SPRINT_QUALIFYING = "SQ"
    SPRINT = "S"
    QUALIFYING = "Q"
    RACE = "R"

    @property
    def code(self) -> str:
        return self.value

    @property
    def fastf1_name(self) -> str:
        """The session name FastF1 uses (`fastf1.get_session(year, round, name)`)."""
        return _FASTF1_NAMES[self]

    @property
    def is_race_like(self) -> bool:
        """Sessions that award points and have a classification by laps (Race, Sprint)."""
        return self in (SessionType.RACE, SessionType.SPRINT)

    @property
    def is_qualifying_like(self) -> bool:
        return self in (SessionType.QUALIFYING, SessionType.SPRINT_QUALIFYING, SessionType.SPRINT_SHOOTOUT)

    @classmethod
    def parse(cls, value: str | SessionType) -> SessionType:
        """Accepts a code (`R`, `sq`), a FastF1 name (`Sprint Qualifying`) or an alias (`race`, `quali`)."""
        if isinstance(value, SessionType):
            return value
        if not isinstance(value, str):
            raise ValueError(f"session must be a string, got {type(value).__name__}")
        normalized = re.sub(r"[\s_\-]+", " ", value.strip()).lower()
        found = _ALIASES.get(normalized)
        if found is None:
            valid = ", ".join(f"{t.code} ({t.fastf1_name})" for t in cls)
            raise ValueError(f"unknown session type {bounded(value)}; expected one of: {valid}")
        return found


_FASTF1_NAMES: dict[SessionType, str] = {
    SessionType.PRACTICE_1: "Practice 1",
    SessionType.PRACTICE_2: "Practice 2",
    SessionType.PRACTICE_3: "Practice 3",
    SessionType.SPRINT_SHOOTOUT: "Sprint Shootout",
    SessionType.SPRINT_QUALIFYING: "Sprint Qualifying",
    SessionType.SPRINT: "Sprint",
    SessionType.QUALIFYING: "Qualifying",
    SessionType.RACE: "Race",
}

_ALIASES: dict[str, SessionType] = {}
for _t in SessionType:
    _ALIASES[_t.code.lower()] = _t
    _ALIASES[_t.fastf1_name.lower()] = _t
_ALIASES.update(
    {
        "race": SessionType.RACE,
        "grand prix": SessionType.RACE,
        "quali": SessionType.QUALIFYING,
        "qualifying": SessionType.QUALIFYING,
        "sprint race": SessionType.SPRINT,
        "sprint quali": SessionType.SPRINT_QUALIFYING,
        "fp 1": SessionType.PRACTICE_1,
        "fp 2": SessionType.PRACTICE_2,
        "fp 3": SessionType.PRACTICE_3,
        "free practice 1": SessionType.PRACTICE_1,
        "free practice 2": SessionType.PRACTICE_2,
        "free practice 3": SessionType.PRACTICE_3,
    }
)

_KEY_RE = re.compile(r"^(?P<season>\d{4})-(?P<round>\d{1,2})-(?P<session>[A-Za-z0-9]+)$")
# The canonical key exactly as `SessionId.key` writes it, for checks outside Python (the dbt tests' session scope,
# analytics/dbt/macros/test_scope.sql, through the generated contract macros).
CANONICAL_KEY_PATTERN = r"[0-9]{4}-[0-9]{2}-(?:" + "|".join(t.code for t in SessionType) + ")"


class SessionId(BaseModel):
    """Identifies one session: e.g. 2023 round 1 Race, key `2023-01-R`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    season: int = Field(ge=FIRST_SEASON, le=LAST_SEASON, description="Championship year")
    round: int = Field(ge=1, le=MAX_ROUND, description="Round number within the season (1-based)")
    session: SessionType = Field(description="Session type; accepts codes, FastF1 names and aliases")

    @model_validator(mode="before")
    @classmethod
    def _coerce_session(cls, data: Any) -> Any:
        if isinstance(data, dict) and "session" in data and not isinstance(data["session"], SessionType):
            data = {**data, "session": SessionType.parse(data["session"])}
        return data

    @property
    def key(self) -> str:
        """Canonical string form, sortable: `2023-01-R`."""
        return f"{self.season:04d}-{self.round:02d}-{self.session.code}"

    @classmethod
    def parse(cls, key: str) -> SessionId:
        """Parses the canonical key (`2023-01-R`)."""
        match = _KEY_RE.match(key.strip()) if isinstance(key, str) else None
        if match is None:
            raise ValueError(f"invalid session key {bounded(key)}; expected SEASON-ROUND-CODE such as '2023-01-R'")
        return cls(season=int(match["season"]), round=int(match["round"]), session=SessionType.parse(match["session"]))

    def __str__(self) -> str:
        return self.key
