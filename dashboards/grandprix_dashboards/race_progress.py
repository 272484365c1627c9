"""Race progress: positions and gaps by lap, pit stops and flag / safety-car periods of one session."""

from __future__ import annotations

from typing import TypedDict, Unpack

from grandprix_dashboards import alerts
from grandprix_dashboards.panels import (
    DashboardSpec,
    PanelSpec,
    Pos,
    SeriesStyle,
    lines_by_lap,
    session_variables,
    table,
)
from grandprix_dashboards.sql import DRIVER_FILTER, SESSION_FILTER, Dialect, SqlSource, selected
from grandprix_dashboards.team_colours import label_sql, teammate_rank_sql

MART = "analytics.mart_positions_by_lap"

# FastF1 track status codes seen during a lap ('124'): the most severe one names the lap.
TRACK_STATUS_LABEL = """case
      when track_status like '%5%' then 'Red flag'
      when track_status like '%4%' then 'Safety car'
      when track_status like '%6%' or track_status like '%7%' then 'Virtual safety car'
      when track_status like '%2%' then 'Yellow flag'
    end"""

# One line per driver, named `VER · Red Bull Racing` (coloured by team; a team's second driver `PER (2) · Red
# Bull Racing`, dashed), rows in lap order (x ascending).
DRIVER_LABEL = label_sql("driver", "team_name", teammate_rank_sql("driver", "team_name"))

# Laps the leader ran under a safety car, virtual safety car or red flag (not yellow): shaded behind the lines.
FLAG_BANDS = (("Safety car", "#FF9830"), ("Virtual safety car", "#FADE2A"), ("Red flag", "#F2495C"))
BANDED = ", ".join(f"'{name}'" for name, _ in FLAG_BANDS)


def with_flag_bands(series_sql: str, value: str, ctes: str = "") -> str:
    """Driver rows plus one row per flagged lap, valued at the top of the chart (the largest value).

    `series_sql` selects `"lap", "driver", "<value>"`; `ctes` are common table expressions it reads.
    """
    return f"""
    with {ctes + "," if ctes else ""} series as ({series_sql}),
    flagged as (
      select lap_number as "lap", {TRACK_STATUS_LABEL} as "driver"
      from {MART}
      where {SESSION_FILTER} and position = 1
    )
    select "lap", "driver", "{value}" from series
    union all
    select flagged."lap", flagged."driver", (select max("{value}") from series)
    from flagged
    where flagged."driver" in ({BANDED})
    order by 1, 2
"""


# The laps the pace-change alert rule fires on in the selected session (alerts.firing_laps, the rule's own SQL).
PACE_SCOPE = SESSION_FILTER
PACE_DROP = "Pace drop"  # series `Pace drop VER`: a marker at the driver's position on each firing lap
PACE_MARKERS = (SeriesStyle(f"/^{PACE_DROP} /", colour="#F2495C", draw="points"),)


def positions(d: Dialect) -> str:
    return with_flag_bands(
        f"""
      select lap_number as "lap", {DRIVER_LABEL} as "driver", position as "position"
      from {MART}
      where {SESSION_FILTER} and {DRIVER_FILTER} and position is not null
      union all
      select p.lap_number, '{PACE_DROP} ' || p.driver, p.position
      from (select * from {MART} where {SESSION_FILTER} and {DRIVER_FILTER} and position is not null) p
      inner join ({alerts.firing_laps(d, PACE_SCOPE)}) f on f."driver" = p.driver and f."lap" = p.lap_number
    """,
        "position",
    )


def pace_changes(d: Dialect) -> str:
    return f"""
    select "lap" as "Lap", "driver" as "Driver", "team" as "Team", "delta_s" as "Slower than baseline (s)",
           "drop_s" as "Two-lap drop (s)"
    from ({alerts.firing_laps(d, PACE_SCOPE)}) f
    where {selected('"driver"')}
    order by "lap", "driver"
"""


GAPS = with_flag_bands(
    f"""
      select lap_number as "lap", {DRIVER_LABEL} as "driver", gap_to_leader_ms / 1000.0 as "gap_s"
      from {MART}
      where {SESSION_FILTER} and {DRIVER_FILTER} and gap_to_leader_ms is not null
    """,
    "gap_s",
)

PIT_STOPS = f"""
    select lap_number as "Lap", driver as "Driver", team_name as "Team", position as "Position after lap"
    from {MART}
    where {SESSION_FILTER} and {DRIVER_FILTER} and is_pit_in
    order by lap_number, position
"""

# Laps under a flag, from the leader's lap (one row per lap), folded into periods (gaps and islands).
FLAG_PERIODS = f"""
    with leader_laps as (
      select lap_number, {TRACK_STATUS_LABEL} as period
      from {MART}
      where {SESSION_FILTER} and position = 1
    ),
    flagged as (
      select lap_number, period,
             lap_number - row_number() over (partition by period order by lap_number) as island
      from leader_laps
      where period is not null
    )
    select period as "Period", min(lap_number) as "From lap", max(lap_number) as "To lap",
           count(*) as "Laps"
    from flagged
    group by period, island
    order by min(lap_number)
"""

CLASSIFICATION = f"""
    with laps as (
      select driver, team_name, lap_number, position, is_pit_in,
             row_number() over (partition by driver order by lap_number desc) as from_end
      from {MART}
      where {SESSION_FILTER}
    )
    select max(case when from_end = 1 then position end) as "Pos", driver as "Driver", team_name as "Team",
           max(lap_number) as "Laps", sum(case when is_pit_in then 1 else 0 end) as "Pit stops"
    from laps
    group by driver, team_name
    order by max(case when from_end = 1 then position end) nulls last, max(lap_number) desc
"""


class DriverLapOptions(TypedDict, total=False):
    unit: str
    invert_y: bool
    styles: tuple[SeriesStyle, ...]
    description: str


def driver_laps(
    title: str, sql: SqlSource, pos: Pos, *, y: str, y_label: str, **options: Unpack[DriverLapOptions]
) -> PanelSpec:
    """A line per driver by lap in team colours, the flag periods shaded (`sql` from :func:`with_flag_bands`)."""
    return lines_by_lap(
        title, sql, pos, y=y, y_label=y_label, series="driver", team_colours=True, bands=FLAG_BANDS, **options
    )


def dashboard() -> DashboardSpec:
    return DashboardSpec(
        uid="gpi-race-progress",
        title="Race progress",
        description="Positions and gaps to the leader lap by lap, pit stops and flag periods of one session.",
        variables=session_variables(MART),
        panels=(
            driver_laps(
                "Positions by lap",
                positions,
                Pos(0, 0, 16, 12),
                y="position",
                invert_y=True,
                y_label="Position",
                styles=PACE_MARKERS,
                description="Position at the end of each lap; P1 at the top. Colours are team colours; shaded "
                "laps ran under a safety car, virtual safety car or red flag; red points mark the laps the "
                "pace-change alert fires on.",
            ),
            table(
                "Running order at the flag",
                CLASSIFICATION,
                Pos(16, 0, 8, 12),
                description="Position at the end of each driver's last lap (before any penalty), laps completed "
                "and pit stops.",
            ),
            driver_laps(
                "Gap to leader",
                GAPS,
                Pos(0, 12, 16, 10),
                y="gap_s",
                unit="s",
                y_label="Gap to leader (s)",
                description="Seconds behind the car that completed the lap first, at the end of each lap. Left out: "
                "the lap a car retired on, and laps run into or out of a red-flag suspension.",
            ),
            table(
                "Flag and safety-car periods",
                FLAG_PERIODS,
                Pos(16, 12, 8, 5),
                description="Laps the leader completed under yellow, safety car, virtual safety car or red flag.",
                empty_ok="a session run entirely under green flags has no flag periods",
            ),
            table(
                "Pit stops",
                PIT_STOPS,
                Pos(16, 17, 8, 5),
                description="Laps on which a driver entered the pit lane.",
                empty_ok="a qualifying or practice session, or a race without stops, has no pit-in laps",
            ),
            table(
                "Pace-change alerts",
                pace_changes,
                Pos(0, 22, 24, 6),
                description=f"Laps where the driver's fuel-corrected pace was at least {alerts.PACE_DROP_S} s "
                "slower than the median of their previous 5 clean laps, two clean laps running (the alert "
                "rule 'Driver pace dropped abruptly').",
                empty_ok="most races have no abrupt pace change; qualifying and practice have none by design",
            ),
        ),
    )
