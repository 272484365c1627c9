"""SQL shared by the strategy dashboards (tyre strategy, race pace, pit stops): one race or sprint picked by
season → event → session, and its drivers in finishing order with their chart labels."""

from __future__ import annotations

from grandprix_dashboards.panels import Variable, session_variables
from grandprix_dashboards.sql import SESSION_FILTER
from grandprix_dashboards.team_colours import label_sql, teammate_rank_sql

# The races and sprints with FastF1 laps (the variables offer these only).
RACE_LAPS = "(select * from analytics.mart_positions_by_lap where session in ('R', 'S')) as race_laps"
SESSION_KEY = f"""(
      select session_key from analytics.dim_sessions
      where {SESSION_FILTER}
    )"""


def variables() -> tuple[Variable, ...]:
    return session_variables(RACE_LAPS)


# CTE `drivers`: every driver of the session with `label` (`VER · Red Bull Racing`, a team's second driver
# `PER (2) · Red Bull Racing`), `place` (the classification's finishing order, else the order at the end of the
# driver's last lap) and `team_place` (the team's best place: sorting by it puts team-mates side by side).
# Team-mates are ranked among all the session's drivers, so a driver filter does not change the labels.
DRIVERS = f"""drivers as (
      select laps.driver_number, min(laps.driver_code) as driver, min(laps.team_name) as team_name,
             min(results.finish_order) as finish_order, max(laps.lap_number) as laps_run,
             min(case when laps.lap_number = last_lap.lap_number then laps.position end) as last_position
      from analytics.fct_laps as laps
      inner join (
        select driver_number, max(lap_number) as lap_number from analytics.fct_laps
        where session_key in {SESSION_KEY} group by driver_number
      ) as last_lap on laps.driver_number = last_lap.driver_number
      left join analytics.fct_race_results as results
        on laps.session_key = results.session_key and laps.driver_number = results.driver_number
      where laps.session_key in {SESSION_KEY}
      group by laps.driver_number
    ),
    ranked as (
      select drivers.*,
             {label_sql("driver", "team_name", teammate_rank_sql("driver", "team_name"))} as label,
             row_number() over (order by finish_order nulls last, last_position nulls last, laps_run desc,
                                driver) as place
      from drivers
    ),
    placed as (
      select ranked.*, min(place) over (partition by team_name) as team_place
      from ranked
    )"""
