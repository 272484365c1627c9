"""Which sessions the local FastF1 cache can serve offline.

FastF1 stores live-timing responses under the API path of each session,
`<year>/<event date>_<Event_Name>/<session date>_<Session_Name>/`: as parsed-session folders in the
cache directory and as URLs inside its HTTP cache (sqlite). Matching those paths with the season
schedules gives the sessions the embedded stack can replay without a network.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from f1common.datasets import ScheduleRow
from f1common.schedule import load_schedule
from f1common.sessions import SessionId, SessionType
from f1common.settings import Settings

_PATH_RE = re.compile(
    rb"livetiming(?:\.formula1\.com|-mirror\.fastf1\.dev)/static/(\d{4})/(\d{4}-\d{2}-\d{2}_[^/]+)/(\d{4}-\d{2}-\d{2}_[^/]+)/(\w+)\.json"
)
# The live-timing feeds a session's laps are built from: with fewer, FastF1 has no laps (NOT_AVAILABLE).
LAP_FEEDS = frozenset({"SessionInfo", "DriverList", "TimingData", "TimingAppData"})


def cached_api_paths(cache_dir: Path) -> set[tuple[int, str, str]]:
    """(season, event folder, session name) of every session whose laps the cache holds: a parsed-session
    folder, or every live-timing feed of `LAP_FEEDS` in the HTTP cache."""
    found: set[tuple[int, str, str]] = set()
    for path in cache_dir.glob("[12][0-9][0-9][0-9]/*/*"):
        if path.is_dir():
            found.add((int(path.parent.parent.name), path.parent.name, _session_name(path.name)))
    http_cache = cache_dir / "fastf1_http_cache.sqlite"
    feeds: dict[tuple[int, str, str], set[str]] = {}
    if http_cache.exists():
        with sqlite3.connect(f"file:{http_cache}?mode=ro", uri=True) as con:
            for (value,) in con.execute("SELECT value FROM responses"):
                for year, event, session, feed in _PATH_RE.findall(value):
                    key = (int(year), event.decode(), _session_name(session.decode()))
                    feeds.setdefault(key, set()).add(feed.decode())
    # a session only partly recorded (e.g. its driver list alone) cannot be served
    found.update(key for key, names in feeds.items() if names >= LAP_FEEDS)
    return found


def _session_name(folder: str) -> str:
    return folder.split("_", 1)[1].replace("_", " ")


def _event_folder(row: ScheduleRow) -> str | None:
    if row.event_date is None:
        return None
    return f"{row.event_date:%Y-%m-%d}_{row.event_name.replace(' ', '_')}"


def offline_sessions(settings: Settings, seasons: Iterable[int] | None = None) -> list[SessionId]:
    """The sessions of `seasons` (default: every season in the cache) that the cache can serve."""
    shared = settings.f1data_dir / "fastf1-cache" if settings.f1data_dir else None
    if shared is None or not shared.is_dir():
        return []
    paths = cached_api_paths(shared)
    wanted = sorted(set(seasons) if seasons is not None else {season for season, _, _ in paths})
    sessions: list[SessionId] = []
    for season in wanted:
        for row in load_schedule(season, settings):
            if (row.season, _event_folder(row), row.session_name) in paths:
                sessions.append(SessionId(season=row.season, round=row.round, session=SessionType.parse(row.session)))
    return sorted(sessions, key=lambda s: s.key)
