"""Weather effects: temperatures and rain against lap times in a session; pace vs track temperature."""

from __future__ import annotations

from grandprix_dashboards.panels import (
    LAP_TIME,
    DashboardSpec,
    Pos,
    column_units,
    lines_by_lap,
    scatter,
    session_variables,
    table,
)
from grandprix_dashboards.sql import DRIVER_FILTER, SESSION_FILTER, key

LAPS = "analytics.mart_lap_weather"
SESSIONS = "analytics.mart_session_pace_weather"
# Only laps with a weather sample: sessions without weather data are not offered.
WEATHER_LAPS = f"(select * from {LAPS} where track_temp_c is not null) as weather_laps"

TEMPERATURES = f"""
    select lap_number as "lap", avg(track_temp_c) as "track_temp_c", avg(air_temp_c) as "air_temp_c"
    from {LAPS}
    where {SESSION_FILTER} and track_temp_c is not null
    group by lap_number
    order by lap_number
"""

PACE_AND_RAIN = f"""
    select lap_number as "lap", median(lap_time_ms) as "median_lap_ms",
           avg(humidity_pct) as "humidity_pct",
           max(case when rainfall then 100 else 0 end) as "rain_pct"
    from {LAPS}
    where {SESSION_FILTER} and {DRIVER_FILTER} and lap_time_ms is not null
    group by lap_number
    order by lap_number
"""

LAP_TIME_VS_TRACK = f"""
    select track_temp_c as "track_temp_c", lap_time_ms as "lap_time_ms", driver as "driver"
    from {LAPS}
    where {SESSION_FILTER} and {DRIVER_FILTER} and lap_time_ms is not null and track_temp_c is not null
      and is_accurate and not is_pit_lap
    order by driver, track_temp_c
"""

PACE_VS_TRACK = f"""
    select avg_track_temp_c as "avg_track_temp_c", median_lap_time_ms as "median_lap_ms",
           cast(season as varchar) || ' ' || event_name as "event"
    from {SESSIONS}
    where session = {key("session")} and avg_track_temp_c is not null and median_lap_time_ms is not null
    order by season, round
"""

SESSION_TABLE = f"""
    select season as "Season", round as "Round", event_name as "Event", session as "Session",
           round(avg_track_temp_c, 1) as "Track °C", round(avg_air_temp_c, 1) as "Air °C",
           round(100 * rain_fraction, 0) as "Rain %", median_lap_time_ms as "Median lap"
    from {SESSIONS}
    where avg_track_temp_c is not null
    order by season desc, round desc, session
"""


def dashboard() -> DashboardSpec:
    return DashboardSpec(
        uid="gpi-weather",
        title="Weather effects",
        description="Track and air temperature and rain against lap times over a session; pace vs track temperature "
        "across sessions.",
        variables=session_variables(WEATHER_LAPS),
        panels=(
            lines_by_lap(
                "Track and air temperature by lap",
                TEMPERATURES,
                Pos(0, 0, 12, 10),
                y=("track_temp_c", "air_temp_c"),
                unit="celsius",
                y_label="°C",
                description="Weather sample nearest each lap's end, averaged over the drivers on that lap.",
            ),
            lines_by_lap(
                "Median lap time, humidity and rain by lap",
                PACE_AND_RAIN,
                Pos(12, 0, 12, 10),
                y=("median_lap_ms", "humidity_pct", "rain_pct"),
                unit=LAP_TIME,
                right_y=("humidity_pct", "rain_pct"),
                right_unit="percent",
                y_label="Median lap time",
                description="Median lap time (m:ss.SSS) of the selected drivers; humidity %; 100 when rain fell.",
            ),
            scatter(
                "Lap time vs track temperature",
                LAP_TIME_VS_TRACK,
                Pos(0, 10, 12, 11),
                x="track_temp_c",
                y="lap_time_ms",
                series="driver",
                unit=LAP_TIME,
                x_label="Track temperature (°C)",
                y_label="Lap time",
                description="Every accurate lap (no pit in/out) of the selected drivers against the track "
                "temperature.",
            ),
            scatter(
                "Session pace vs track temperature",
                PACE_VS_TRACK,
                Pos(12, 10, 12, 11),
                x="avg_track_temp_c",
                y="median_lap_ms",
                series="event",
                unit=LAP_TIME,
                x_label="Mean track temperature (°C)",
                y_label="Median lap time",
                description="Median lap time of each session of the selected type against its mean track "
                "temperature (circuits differ in length: compare a circuit across years).",
            ),
            table(
                "Weather by session",
                SESSION_TABLE,
                Pos(0, 21, 24, 9),
                styles=column_units({"Median lap": LAP_TIME}),
                description="Mean track and air temperature, share of rainy samples and median lap time.",
            ),
        ),
    )
