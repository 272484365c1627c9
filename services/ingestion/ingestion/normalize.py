"""Pure normalisation of a loaded FastF1 session into tables of the f1common dataset schemas.

No AWS here: :func:`session_tables` takes a loaded ``fastf1.core.Session`` and returns one Arrow
table per dataset plus the datasets the source lacks, so tests and the benchmark call it directly.

Conventions (see :mod:`f1common.datasets`): durations are integer milliseconds, timestamps are UTC,
FastF1's NaN/NaT/empty strings become typed nulls, and nothing is invented: a value FastF1 does not
have stays null.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from f1common.datasets import Dataset
from f1common.sessions import SessionId
from f1common.tables import frame_to_table

# Two clocks, matched: track-status changes carry the session time, race-control messages the UTC
# wall-clock time (whole seconds). The offset at which most of them coincide is the session's t0.
CLOCK_MATCH_WINDOW_S = 1.0
CLOCK_MIN_MATCHES = 3


class DataNotAvailable(Exception):
    """FastF1 has no timing data for the session (not published yet, or not in the offline cache)."""


@dataclass
class SessionTables:
    """The normalised datasets of one session and the datasets the source did not provide."""

    session: SessionId
    tables: dict[Dataset, pa.Table] = field(default_factory=dict)
    missing: dict[Dataset, str] = field(default_factory=dict)

    @property
    def rows(self) -> dict[str, int]:
        return {d.value: t.num_rows for d, t in self.tables.items()}


def session_tables(session: Any, session_id: SessionId) -> SessionTables:
    """Normalises a loaded FastF1 session (laps, results, drivers, weather, race control).

    Raises :class:`DataNotAvailable` when the session has no laps: that is "not published yet",
    never an empty dataset. Other datasets that are absent or empty are reported in ``missing``.
    """
    laps = _loaded(session, "laps")
    if laps is None or len(laps) == 0:
        raise DataNotAvailable(f"FastF1 has no lap timing data for {session_id.key}")
    out = SessionTables(session=session_id)
    t0 = session_t0_utc(session)
    out.tables[Dataset.LAPS] = laps_table(laps, session_id, t0)

    results = _loaded(session, "results")
    if results is None or len(results) == 0:
        reason = "FastF1 has no driver list or results for this session"
        out.missing[Dataset.RESULTS] = reason
        out.missing[Dataset.DRIVERS] = reason
    else:
        out.tables[Dataset.RESULTS] = results_table(results, session_id)
        out.tables[Dataset.DRIVERS] = drivers_table(results, session_id)

    weather = _loaded(session, "weather_data")
    if weather is None or len(weather) == 0:
        out.missing[Dataset.WEATHER] = "FastF1 has no weather data for this session"
    else:
        out.tables[Dataset.WEATHER] = weather_table(weather, session_id, t0)

    messages = _loaded(session, "race_control_messages")
    if messages is None or len(messages) == 0:
        out.missing[Dataset.RACE_CONTROL] = "FastF1 has no race control messages for this session"
    else:
        out.tables[Dataset.RACE_CONTROL] = race_control_table(messages, session_id)
    return out


def _loaded(session: Any, attribute: str) -> pd.DataFrame | None:
    """A session attribute, or None when FastF1 did not load it (it raises DataNotLoadedError)."""
    from fastf1.exceptions import DataNotLoadedError

    try:
        value = getattr(session, attribute)
    except DataNotLoadedError:
        return None
    return value if isinstance(value, pd.DataFrame) else None


# --- the session clock -----------------------------------------------------------------------


def session_t0_utc(session: Any) -> pd.Timestamp | None:
    """Wall-clock UTC of session time zero, or None when it cannot be established.

    FastF1 computes ``session.t0_date`` from car telemetry, which the ingestion does not load; then
    the offset is recovered by matching track-status changes (session time) with race-control
    messages (UTC): see :func:`match_clocks`.
    """
    from fastf1.exceptions import DataNotLoadedError

    try:
        t0 = session.t0_date
    except (DataNotLoadedError, AttributeError):
        t0 = None
    if t0 is not None and not pd.isna(t0):
        return _as_utc(pd.Timestamp(t0))
    track_status = _loaded(session, "track_status")
    messages = _loaded(session, "race_control_messages")
    if track_status is None or messages is None or len(track_status) == 0 or len(messages) == 0:
        return None
    return match_clocks(track_status["Time"], messages["Time"])


def match_clocks(session_times: pd.Series, utc_times: pd.Series) -> pd.Timestamp | None:
    """The UTC instant of session time zero that makes the most events of both clocks coincide.

    Every (session time, UTC time) pair proposes an offset; true pairs agree within the resolution
    of race-control times (1 s), unrelated pairs scatter. Needs at least ``CLOCK_MIN_MATCHES`` agreeing
    pairs, else None (the UTC columns stay null rather than guessed).
    """
    session_s = pd.to_timedelta(session_times).dropna().dt.total_seconds().to_numpy()
    utc = pd.to_datetime(utc_times).dropna()
    if len(session_s) == 0 or len(utc) == 0:
        return None
    utc_s = (_as_utc_series(utc) - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()
    offsets = np.sort((utc_s[:, None] - session_s[None, :]).ravel())
    # For each candidate offset o, count offsets in [o, o + window]; the densest window wins.
    ends = np.searchsorted(offsets, offsets + CLOCK_MATCH_WINDOW_S, side="right")
    counts = ends - np.arange(len(offsets))
    best = int(np.argmax(counts))
    if counts[best] < CLOCK_MIN_MATCHES:
        return None
    offset_s = float(np.median(offsets[best : ends[best]]))
    return (pd.Timestamp(0, tz="UTC") + pd.Timedelta(seconds=offset_s)).round("ms")


def _as_utc(ts: pd.Timestamp) -> pd.Timestamp:
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _as_utc_series(series: pd.Series) -> pd.Series:
    series = pd.to_datetime(series)
    return series.dt.tz_localize("UTC") if series.dt.tz is None else series.dt.tz_convert("UTC")


# --- column converters ---------------------------------------------------------------------------


def _ms(series: pd.Series) -> pd.Series:
    """Timedeltas to nullable integer milliseconds (rounded)."""
    td = pd.to_timedelta(series)
    return (td.dt.total_seconds() * 1000).round().astype("Int64")


def _int(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="raise").round().astype("Int64")


def _float(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="raise").astype("Float64")


def _bool(series: pd.Series) -> pd.Series:
    return series.astype("object").where(series.notna(), None).astype("boolean")


def _str(series: pd.Series) -> pd.Series:
    """Strings with FastF1's empty strings and NaN as nulls; numbers such as driver numbers as text.

    FastF1 also hands over missing values as the literal strings 'nan' and 'None' (e.g. the Ergast
    driver id of reserve drivers in a practice session): those are nulls too.
    """
    text = series.astype("string").str.strip()
    return text.mask(text.isin(["", "nan", "NaN", "None"]), pd.NA)


def _utc_from(t0: pd.Timestamp | None, session_time: pd.Series) -> pd.Series:
    if t0 is None:
        return pd.Series(pd.NaT, index=session_time.index, dtype="datetime64[ns, UTC]")
    return (t0 + pd.to_timedelta(session_time)).dt.round("ms")


def _colour(series: pd.Series) -> pd.Series:
    text = _str(series)
    return text.map(lambda v: v if pd.isna(v) or v.startswith("#") else f"#{v.upper()}").astype("string")


def _with_session(frame: pd.DataFrame, session: SessionId) -> pd.DataFrame:
    frame.insert(0, "season", session.season)
    frame.insert(1, "round", session.round)
    frame.insert(2, "session", session.session.code)
    return frame


# --- datasets ------------------------------------------------------------------------------------


def laps_table(laps: pd.DataFrame, session: SessionId, t0: pd.Timestamp | None) -> pa.Table:
    lap_start_utc = _utc_from(t0, laps["LapStartTime"])
    if "LapStartDate" in laps and laps["LapStartDate"].notna().any():  # FastF1's own, with telemetry
        lap_start_utc = _as_utc_series(laps["LapStartDate"])
    frame = pd.DataFrame(
        {
            "driver_number": _str(laps["DriverNumber"]),
            "driver": _str(laps["Driver"]),
            "team": _str(laps["Team"]),
            "lap_number": _int(laps["LapNumber"]),
            "lap_time_ms": _ms(laps["LapTime"]),
            "sector1_ms": _ms(laps["Sector1Time"]),
            "sector2_ms": _ms(laps["Sector2Time"]),
            "sector3_ms": _ms(laps["Sector3Time"]),
            "session_time_ms": _ms(laps["Time"]),
            "lap_start_time_utc": lap_start_utc,
            "speed_i1_kph": _float(laps["SpeedI1"]),
            "speed_i2_kph": _float(laps["SpeedI2"]),
            "speed_fl_kph": _float(laps["SpeedFL"]),
            "speed_st_kph": _float(laps["SpeedST"]),
            "compound": _str(laps["Compound"]),
            "tyre_life": _int(laps["TyreLife"]),
            "fresh_tyre": _bool(laps["FreshTyre"]),
            "stint": _int(laps["Stint"]),
            "pit_in_time_ms": _ms(laps["PitInTime"]),
            "pit_out_time_ms": _ms(laps["PitOutTime"]),
            "position": _int(laps["Position"]),
            "track_status": _str(laps["TrackStatus"]),
            "is_personal_best": _bool(laps["IsPersonalBest"]),
            "deleted": _bool(laps["Deleted"]),
            "deleted_reason": _str(laps["DeletedReason"]),
            "is_accurate": _bool(laps["IsAccurate"]),
            "fastf1_generated": _bool(laps["FastF1Generated"]),
        }
    ).reset_index(drop=True)
    return frame_to_table(_with_session(frame, session), Dataset.LAPS)


def results_table(results: pd.DataFrame, session: SessionId) -> pa.Table:
    frame = pd.DataFrame(
        {
            "driver_number": _str(results["DriverNumber"]),
            "abbreviation": _str(results["Abbreviation"]),
            "driver_id": _str(results["DriverId"]),
            "full_name": _str(results["FullName"]),
            "team_name": _str(results["TeamName"]),
            "team_id": _str(results["TeamId"]),
            "position": _int(results["Position"]),
            "classified_position": _str(results["ClassifiedPosition"]),
            "grid_position": _int(results["GridPosition"]),
            "q1_ms": _ms(results["Q1"]),
            "q2_ms": _ms(results["Q2"]),
            "q3_ms": _ms(results["Q3"]),
            "time_ms": _ms(results["Time"]),
            "status": _str(results["Status"]),
            "points": _float(results["Points"]),
            "laps": _int(results["Laps"]),
        }
    ).reset_index(drop=True)
    return frame_to_table(_with_session(frame, session), Dataset.RESULTS)


def drivers_table(results: pd.DataFrame, session: SessionId) -> pa.Table:
    frame = pd.DataFrame(
        {
            "driver_number": _str(results["DriverNumber"]),
            "abbreviation": _str(results["Abbreviation"]),
            "driver_id": _str(results["DriverId"]),
            "first_name": _str(results["FirstName"]),
            "last_name": _str(results["LastName"]),
            "full_name": _str(results["FullName"]),
            "broadcast_name": _str(results["BroadcastName"]),
            "team_name": _str(results["TeamName"]),
            "team_id": _str(results["TeamId"]),
            "team_colour": _colour(results["TeamColor"]),
            "country_code": _str(results["CountryCode"]),
            "headshot_url": _str(results["HeadshotUrl"]),
        }
    ).reset_index(drop=True)
    return frame_to_table(_with_session(frame, session), Dataset.DRIVERS)


def weather_table(weather: pd.DataFrame, session: SessionId, t0: pd.Timestamp | None) -> pa.Table:
    frame = pd.DataFrame(
        {
            "sample_time_ms": _ms(weather["Time"]),
            "sample_time_utc": _utc_from(t0, weather["Time"]),
            "air_temp_c": _float(weather["AirTemp"]),
            "track_temp_c": _float(weather["TrackTemp"]),
            "humidity_pct": _float(weather["Humidity"]),
            "pressure_mbar": _float(weather["Pressure"]),
            "rainfall": _bool(weather["Rainfall"]),
            "wind_speed_ms": _float(weather["WindSpeed"]),
            "wind_direction_deg": _int(weather["WindDirection"]),
        }
    ).reset_index(drop=True)
    return frame_to_table(_with_session(frame, session), Dataset.WEATHER)


def race_control_table(messages: pd.DataFrame, session: SessionId) -> pa.Table:
    messages = messages.reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "message_seq": pd.Series(np.arange(len(messages)), dtype="Int64"),
            "time_utc": _as_utc_series(messages["Time"]),  # FastF1 gives the API's UTC time, naive
            "category": _str(messages["Category"]),
            "message": _str(messages["Message"]),
            "status": _str(messages["Status"]),
            "flag": _str(messages["Flag"]),
            "scope": _str(messages["Scope"]),
            "sector": _int(messages["Sector"]),
            "racing_number": _str(messages["RacingNumber"]),
            "lap": _int(messages["Lap"]),
        }
    )
    return frame_to_table(_with_session(frame, session), Dataset.RACE_CONTROL)
