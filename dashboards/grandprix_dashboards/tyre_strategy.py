"""Tyre strategy: every driver's stints in finishing order in the official compound colours, tyre age lap by lap,
and the stints with their pace, for one race or sprint (analytics.fct_stints, fct_laps)."""

from __future__ import annotations

from grandprix_dashboards import compound_colours
from grandprix_dashboards.panels import (
    LAP_TIME,
    DashboardSpec,
    Pos,
    SeriesStyle,
    bars,
    column_units,
    table,
)
from grandprix_dashboards.race_progress import BANDED, TRACK_STATUS_LABEL, driver_laps, with_flag_bands
from grandprix_dashboards.race_session import DRIVERS, SESSION_KEY, variables
from grandprix_dashboards.sql import selected

TRACK_ROW = "SC / VSC / red flag"
STINT_LABEL = compound_colours.label_sql("stints.stint", "stints.compound", "stints.season", "stints.is_fresh_tyre")
# The lap-time columns of the stint tables (this dashboard's and Race pace's), shown as lap times.
STINT_LAP_TIMES = column_units({"Median clean lap": LAP_TIME, "Fuel-corrected median": LAP_TIME})

# The leader's laps folded into periods: green (yellow flags included), SC, VSC, red flag, in lap order.
FLAG_PERIODS = f"""leader_laps as (
      select lap_number,
             case when {TRACK_STATUS_LABEL} in ({BANDED}) then {TRACK_STATUS_LABEL} else 'Green' end as period
      from analytics.fct_laps
      where session_key in {SESSION_KEY} and position = 1
    ),
    islands as (
      select lap_number, period,
             lap_number - row_number() over (partition by period order by lap_number) as island
      from leader_laps
    ),
    periods as (
      select period, min(lap_number) as first_lap, count(*) as laps
      from islands
      group by period, island
    )"""

# Stacked bars, one per driver: a segment per stint, its length the stint's laps. Grafana stacks the columns
# groupingToMatrix makes in the order they first appear, so rows come stint by stint (S1 of every driver,
# then S2, ...) after the flag periods' row, and the bars' order is the first pass's: finishing order.
STRATEGY = f"""
    with {DRIVERS},
    {FLAG_PERIODS},
    segments as (
      select 0 as kind, row_number() over (order by first_lap) as seq, 0 as place, '{TRACK_ROW}' as "driver",
             'F' || cast(row_number() over (order by first_lap) as varchar) || ' · ' || period as "stint",
             laps as "laps"
      from periods
      union all
      select 1 as kind, stints.stint as seq, placed.place, placed.label as "driver", {STINT_LABEL} as "stint",
             stints.laps as "laps"
      from analytics.fct_stints as stints
      inner join placed on stints.driver_number = placed.driver_number
      where stints.session_key in {SESSION_KEY} and {selected("placed.driver")}
    )
    select "driver", "stint", "laps" from segments
    order by kind, seq, place
"""

TYRE_AGE = with_flag_bands(
    f"""
      select laps.lap_number as "lap", placed.label as "driver", laps.tyre_life as "tyre_age"
      from analytics.fct_laps as laps
      inner join placed on laps.driver_number = placed.driver_number
      where laps.session_key in {SESSION_KEY} and {selected("placed.driver")} and laps.tyre_life is not null
    """,
    "tyre_age",
    ctes=DRIVERS,
)

STINTS = f"""
    with {DRIVERS}
    select placed.place as "Pos", placed.driver as "Driver", placed.team_name as "Team", stints.stint as "Stint",
           stints.compound as "Compound", case when stints.is_fresh_tyre then 'new' else 'used' end as "Set",
           stints.first_lap as "From lap", stints.last_lap as "To lap", stints.laps as "Laps",
           stints.tyre_age_start as "Age at start", stints.tyre_age_end as "Age at end",
           stints.end_reason || case when stints.end_track_status in ('Green', 'Yellow flag') then ''
                                     else ' (' || stints.end_track_status || ')' end as "Ended",
           stints.median_clean_lap_time_ms as "Median clean lap",
           stints.median_fuel_corrected_lap_time_ms as "Fuel-corrected median",
           round(stints.degradation_s_per_lap, 3) as "Degradation s/lap"
    from analytics.fct_stints as stints
    inner join placed on stints.driver_number = placed.driver_number
    where stints.session_key in {SESSION_KEY} and {selected("placed.driver")}
    order by placed.place, stints.stint
"""

# The flag periods' bar: green laps not drawn; SC orange, VSC purple (Grafana's yellow would read as the medium
# compound's yellow here), red flag red.
FLAG_COLOURS = {"Safety car": "#FF9830", "Virtual safety car": "#A352CC", "Red flag": "#F2495C"}
FLAG_STYLES = (
    SeriesStyle("/^F\\d+ · Green$/", invisible=True),
    *(SeriesStyle(f"/^F\\d+ · {name}$/", colour=colour, hidden=True) for name, colour in FLAG_COLOURS.items()),
)


def dashboard() -> DashboardSpec:
    return DashboardSpec(
        uid="gpi-tyre-strategy",
        title="Tyre strategy",
        description="Stints in the official compound colours in finishing order, tyre age by lap and every stint's "
        "tyres, length and pace, for one race or sprint.",
        variables=variables(),
        panels=(
            bars(
                "Stints by driver",
                STRATEGY,
                Pos(0, 0, 24, 13),
                x="driver",
                y="laps",
                series="stint",
                stack=True,
                horizontal=True,
                show_values=True,
                styles=(*compound_colours.styles(), *FLAG_STYLES),
                x_label="",
                y_label="Laps",
                description="One bar per driver in finishing order, one segment per stint in FastF1's official "
                "compound colours (lighter: a used set), its length and label the stint's laps. The top bar is "
                "the race's safety-car (orange), virtual-safety-car (purple) and red-flag (red) laps.",
            ),
            driver_laps(
                "Tyre age by lap",
                TYRE_AGE,
                Pos(0, 13, 24, 10),
                y="tyre_age",
                y_label="Tyre age (laps)",
                description="Laps on the set at the end of each lap (a used set starts above 1); a drop is a pit "
                "stop. Team colours, a team's second driver dashed; shaded: safety car, VSC, red flag.",
            ),
            table(
                "Stints",
                STINTS,
                Pos(0, 23, 24, 12),
                styles=STINT_LAP_TIMES,
                description="Every stint: compound, new or used set, laps, tyre age, how it ended (and under "
                "which flag), the median clean lap, the same fuel-corrected and the degradation slope "
                "(fct_stints).",
            ),
        ),
    )
