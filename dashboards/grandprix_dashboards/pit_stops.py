"""Pit stops: what each stop of a race or sprint cost (analytics.fct_pit_losses), when the stops came against the
safety-car periods, the season's cheapest and costliest stops and each circuit's typical green-flag loss."""

from __future__ import annotations

from grandprix_dashboards.panels import DashboardSpec, Pos, SeriesStyle, bars, lines, stat, table
from grandprix_dashboards.race_progress import FLAG_BANDS, with_flag_bands
from grandprix_dashboards.race_session import DRIVERS, SESSION_KEY, variables
from grandprix_dashboards.sql import SEASON, selected

# Stops whose loss means something: a red-flag stop changes tyres during the suspension (no loss).
PRICED = "losses.pit_loss_ms is not null and not losses.is_under_red_flag"
FLAG_MARK = """case when losses.is_under_safety_car then ' (SC)' when losses.is_under_vsc then ' (VSC)' else '' end"""

# One bar per stop, grouped by team (the team with the cheapest median stop first), valued in the driver's
# series so it takes the team colour (a team's second driver lighter).
LOSS_BY_TEAM = f"""
    with {DRIVERS},
    stops as (
      select placed.label, placed.team_name, losses.lap_number, losses.pit_loss_ms,
             placed.driver || ' L' || cast(losses.lap_number as varchar) || {FLAG_MARK} as stop,
             median(losses.pit_loss_ms) over (partition by placed.team_name) as team_median
      from analytics.fct_pit_losses as losses
      inner join placed on losses.driver_number = placed.driver_number
      where losses.session_key in {SESSION_KEY} and {selected("placed.driver")} and {PRICED}
    )
    select stop as "stop", label as "driver", pit_loss_ms / 1000.0 as "loss_s"
    from stops
    order by team_median, team_name, label, lap_number
"""

STOPS_BY_LAP = with_flag_bands(
    f"""
      select losses.lap_number as "lap", 'Stops' as "driver", count(*) as "stops"
      from analytics.fct_pit_losses as losses
      inner join placed on losses.driver_number = placed.driver_number
      where losses.session_key in {SESSION_KEY} and {selected("placed.driver")}
      group by losses.lap_number
    """,
    "stops",
    ctes=DRIVERS,
)

STOP_TABLE = f"""
    with {DRIVERS}
    select losses.lap_number as "Lap", placed.driver as "Driver", placed.team_name as "Team",
           losses.compound_before || ' → ' || losses.compound_after as "Tyres",
           round(losses.pit_lane_time_ms / 1000.0, 2) as "Pit lane s", round(losses.ergast_duration_ms / 1000.0, 2)
             as "Ergast s",
           round(losses.pit_loss_ms / 1000.0, 2) as "Loss s", losses.position_before as "Pos before",
           losses.position_after as "Pos after", losses.positions_gained as "Gained", losses.track_status as "Flag"
    from analytics.fct_pit_losses as losses
    inner join placed on losses.driver_number = placed.driver_number
    where losses.session_key in {SESSION_KEY} and {selected("placed.driver")}
    order by losses.lap_number, placed.place
"""

# The season's five cheapest and five costliest green-flag stops (under a safety car the field's laps vary along
# the queue, and a lapped car un-lapping itself runs faster than the field: those losses compare circumstances).
EXTREMES = f"""
    with priced as (
      select sessions.event_name, losses.session, losses.driver_code, losses.team_name, losses.lap_number,
             losses.pit_loss_ms, losses.pit_lane_time_ms, losses.track_status,
             row_number() over (order by losses.pit_loss_ms, losses.pit_stop_id) as cheap,
             row_number() over (order by losses.pit_loss_ms desc, losses.pit_stop_id) as dear
      from analytics.fct_pit_losses as losses
      inner join analytics.dim_sessions as sessions on losses.session_key = sessions.session_key
      where losses.season = {SEASON} and losses.is_green_flag and losses.pit_loss_ms is not null
    )
    select case when cheap <= 5 then 'cheapest' else 'costliest' end as "Rank", event_name as "Event",
           session as "Session", driver_code as "Driver", team_name as "Team", lap_number as "Lap",
           round(pit_loss_ms / 1000.0, 2) as "Loss s", round(pit_lane_time_ms / 1000.0, 2) as "Pit lane s",
           track_status as "Flag"
    from priced
    where cheap <= 5 or dear <= 5
    order by pit_loss_ms
"""

BY_CIRCUIT = f"""
    select event_name as "event", median_green_pit_loss_ms / 1000.0 as "loss_s"
    from analytics.mart_pit_loss_by_circuit
    where season = {SEASON} and median_green_pit_loss_ms is not null
    order by median_green_pit_loss_ms
"""

CIRCUIT_TABLE = f"""
    select event_name as "Event", circuit_name as "Circuit", stops as "Stops", green_flag_stops as "Green-flag",
           round(median_green_pit_loss_ms / 1000.0, 2) as "Median green loss s",
           round(median_green_pit_lane_time_ms / 1000.0, 2) as "Median pit lane s",
           round(median_neutralised_pit_loss_ms / 1000.0, 2) as "Median SC/VSC loss s"
    from analytics.mart_pit_loss_by_circuit
    where season = {SEASON}
    order by median_green_pit_loss_ms
"""

# How far FastF1's pit-lane time is from Ergast's (official) duration over the season's stops, in seconds.
RECONCILIATION = f"""
    select round(median(abs(pit_lane_time_ms - ergast_duration_ms)) / 1000.0, 3) as "median_abs_diff_s"
    from analytics.fct_pit_losses
    where season = {SEASON} and ergast_duration_ms is not null and not is_under_red_flag
"""


def dashboard() -> DashboardSpec:
    return DashboardSpec(
        uid="gpi-pit-stops",
        title="Pit stops",
        description="What each stop of a race or sprint cost, stops against the safety-car periods, the season's "
        "cheapest and costliest stops and each circuit's typical green-flag pit loss.",
        variables=variables(),
        panels=(
            bars(
                "Pit loss per stop, by team",
                LOSS_BY_TEAM,
                Pos(0, 0, 16, 11),
                x="stop",
                y="loss_s",
                series="driver",
                unit="s",
                team_colours=True,
                y_label="Loss (s)",
                description="Time each stop cost (in-lap + out-lap against the field's laps, shifted by the "
                "driver's own pace), grouped by team, cheapest team first; (SC)/(VSC): under a safety car or "
                "virtual safety car. Team colours, a team's second driver lighter.",
            ),
            stat(
                "FastF1 vs Ergast pit-lane time (season)",
                RECONCILIATION,
                Pos(16, 0, 8, 3),
                y="median_abs_diff_s",
                unit="s",
                description="Median difference between FastF1's pit entry-to-exit time and Ergast's "
                "official stop duration over the season's stops (red-flag stops left out).",
            ),
            lines(
                "Stops by lap",
                STOPS_BY_LAP,
                Pos(16, 3, 8, 8),
                x="lap",
                y="stops",
                series="driver",
                bands=FLAG_BANDS,
                styles=(SeriesStyle("/^Stops$/", draw="bars", colour="#8AB8FF"),),
                x_label="In-lap",
                y_label="Stops",
                description="Stops per in-lap; shaded: safety car, virtual safety car, red flag.",
            ),
            table(
                "Stops",
                STOP_TABLE,
                Pos(0, 11, 24, 10),
                empty_ok="a race or sprint without a stop FastF1 timed",
                description="Every stop: tyres, pit-lane time (FastF1 and Ergast), loss, positions before the "
                "in-lap and after the out-lap, and the flag on those laps.",
            ),
            table(
                "Cheapest and costliest stops of the season",
                EXTREMES,
                Pos(0, 21, 12, 10),
                description="The five cheapest and five costliest green-flag stops of the season's races and "
                "sprints (stops under a safety car are cheap by circumstance; see each race's table).",
            ),
            bars(
                "Typical green-flag pit loss by circuit",
                BY_CIRCUIT,
                Pos(12, 21, 12, 10),
                x="event",
                y="loss_s",
                unit="s",
                y_label="Median loss (s)",
                description="Median loss of the green-flag stops at each circuit this season "
                "(mart_pit_loss_by_circuit).",
            ),
            table(
                "Pit loss by circuit",
                CIRCUIT_TABLE,
                Pos(0, 31, 24, 7),
                description="Per circuit this season: stops, green-flag stops, median green-flag loss and "
                "pit-lane time, median loss under SC/VSC/red flag.",
            ),
        ),
    )
