"""The season calendar from FastF1: the single normaliser of `fastf1.get_event_schedule`.

One :class:`~f1common.datasets.ScheduleRow` per session of each event (pre-season testing excluded),
with the session type as its canonical code and the scheduled start in UTC. The ingestion service
lands these rows as the `schedule` dataset; the scheduler turns them into race-calendar items.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from f1common.datasets import ScheduleRow
from f1common.fastf1_setup import configure_fastf1
from f1common.sessions import SessionType
from f1common.settings import Settings

MAX_SESSIONS_PER_EVENT = 5  # FastF1 columns Session1..Session5

# Typical lengths of a session, used to estimate when its data can be fetched.
SESSION_DURATIONS: dict[SessionType, dt.timedelta] = {
    SessionType.RACE: dt.timedelta(hours=2),
    SessionType.SPRINT: dt.timedelta(hours=1),
    SessionType.QUALIFYING: dt.timedelta(hours=1),
    SessionType.SPRINT_QUALIFYING: dt.timedelta(minutes=45),
    SessionType.SPRINT_SHOOTOUT: dt.timedelta(minutes=45),
    SessionType.PRACTICE_1: dt.timedelta(hours=1),
    SessionType.PRACTICE_2: dt.timedelta(hours=1),
    SessionType.PRACTICE_3: dt.timedelta(hours=1),
}


class ScheduleError(ValueError):
    """The FastF1 schedule could not be read or normalised; the message names the event and field."""


def event_schedule(season: int, settings: Settings) -> Any:
    """FastF1's event schedule of `season` (testing excluded); :class:`ScheduleError` if it has none."""
    import fastf1

    configure_fastf1(settings)
    try:
        frame = fastf1.get_event_schedule(season, include_testing=False)
    except Exception as exc:  # FastF1 raises plain Exceptions/ValueErrors for unknown or uncached seasons
        raise ScheduleError(f"cannot load the FastF1 event schedule of season {season}: {exc}") from exc
    if frame is None or len(frame) == 0:
        raise ScheduleError(f"FastF1 has no events for season {season}")
    return frame


def load_schedule(season: int, settings: Settings) -> list[ScheduleRow]:
    """All sessions of `season` (testing excluded), ordered by round then start, from FastF1."""
    return schedule_rows(season, event_schedule(season, settings).to_dict("records"))


def schedule_rows(season: int, events: list[dict[str, Any]]) -> list[ScheduleRow]:
    """Normalises FastF1 event records (`EventSchedule.to_dict("records")`) into schedule rows.

    Sessions with no name are skipped (FastF1 leaves unused slots empty); a session whose start is
    unknown keeps `session_start_utc=None`. An unknown session name raises :class:`ScheduleError`.
    """
    rows: list[ScheduleRow] = []
    for event in events:
        round_number = _int(event.get("RoundNumber"))
        event_name = _str(event.get("EventName"))
        if round_number is None or round_number < 1 or event_name is None:
            continue  # testing entries (round 0) or blank lines
        for slot in range(1, MAX_SESSIONS_PER_EVENT + 1):
            name = _str(event.get(f"Session{slot}"))
            if name is None:
                continue
            try:
                session = SessionType.parse(name)
            except ValueError as exc:
                raise ScheduleError(
                    f"season {season} round {round_number} ({event_name}) Session{slot}: {exc}"
                ) from None
            rows.append(
                ScheduleRow(
                    season=season,
                    round=round_number,
                    event_name=event_name,
                    official_event_name=_str(event.get("OfficialEventName")),
                    country=_str(event.get("Country")),
                    location=_str(event.get("Location")),
                    event_format=_str(event.get("EventFormat")),
                    session=session.code,
                    session_name=name,
                    session_start_utc=_utc(event.get(f"Session{slot}DateUtc")),
                    event_date=_date(event.get("EventDate")),
                    f1_api_support=_bool(event.get("F1ApiSupport")),
                )
            )
    rows.sort(key=lambda r: (r.round, r.session_start_utc or dt.datetime.max.replace(tzinfo=dt.UTC)))
    return rows


def expected_end(row: ScheduleRow) -> dt.datetime | None:
    """Scheduled start plus the typical duration of the session type; None when the start is unknown."""
    if row.session_start_utc is None:
        return None
    return row.session_start_utc + SESSION_DURATIONS[SessionType.parse(row.session)]


def _missing(value: Any) -> bool:
    """None, NaN, NaT and pandas' NA (FastF1 fills empty cells with them)."""
    import pandas as pd

    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _str(value: Any) -> str | None:
    if _missing(value):
        return None
    text = str(value).strip()
    return text or None


def _int(value: Any) -> int | None:
    return None if _missing(value) else int(value)


def _bool(value: Any) -> bool | None:
    return None if _missing(value) else bool(value)


def _utc(value: Any) -> dt.datetime | None:
    """FastF1's `SessionNDateUtc` is naive UTC (pandas Timestamp); returns an aware UTC datetime."""
    if _missing(value):
        return None
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        raise ScheduleError(f"session start must be a timestamp, got {value!r}")
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _date(value: Any) -> dt.date | None:
    if _missing(value):
        return None
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])
