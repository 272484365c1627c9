"""Points & standings: drivers' and constructors' championships after every round of a season."""

from __future__ import annotations

from grandprix_dashboards.panels import DashboardSpec, Pos, Variable, lines, table
from grandprix_dashboards.team_colours import label_sql, teammate_rank_sql

DRIVERS = "analytics.mart_driver_standings"
SEASON = "${season:raw}"
CONSTRUCTORS = "analytics.mart_constructor_standings"

VARIABLES = (
    Variable("season", "Season", f'select distinct season as "season" from {DRIVERS} order by 1 desc'),
    Variable("driver", "Driver",
             f'select driver_code as "driver" from {DRIVERS} where season = {SEASON} and driver_code is not null '
             "group by driver_code order by min(position), driver_code",
             multi=True, include_all=True),
)

DRIVER_FILTER = "driver_code in (${driver:sqlstring})"

# One line per driver, named `VER · Red Bull` after the driver's team in the latest round (coloured by
# team; a mid-season move keeps one line), rows in round order (x ascending).
def _driver_lines(value: str, alias: str) -> str:
    return f"""
    with latest_team as (
      select driver_code, team_name
      from {DRIVERS}
      where season = {SEASON}
      qualify row_number() over (partition by driver_code order by round desc) = 1
    )
    select standings.round as "round",
           {label_sql("standings.driver_code", "latest_team.team_name",
                      teammate_rank_sql("standings.driver_code", "latest_team.team_name"))} as "driver",
           standings.{value} as "{alias}"
    from {DRIVERS} as standings
    inner join latest_team on standings.driver_code = latest_team.driver_code
    where standings.season = {SEASON} and standings.{DRIVER_FILTER}
    order by standings.round, standings.driver_code
"""


DRIVER_POINTS = _driver_lines("cumulative_points", "points")
DRIVER_POSITIONS = _driver_lines("position", "position")

CONSTRUCTOR_POINTS = f"""
    select round as "round", team_name as "team", cumulative_points as "points"
    from {CONSTRUCTORS}
    where season = {SEASON}
    order by round, team_name
"""

DRIVER_TABLE = f"""
    select position as "Pos", driver_name as "Driver", team_name as "Team", cumulative_points as "Points",
           wins as "Wins", round as "After round", event_name as "Event"
    from {DRIVERS}
    where season = {SEASON} and round = (select max(round) from {DRIVERS} where season = {SEASON})
    order by position
"""

CONSTRUCTOR_TABLE = f"""
    select position as "Pos", team_name as "Team", cumulative_points as "Points", wins as "Wins"
    from {CONSTRUCTORS}
    where season = {SEASON} and round = (select max(round) from {CONSTRUCTORS} where season = {SEASON})
    order by position
"""


def dashboard() -> DashboardSpec:
    return DashboardSpec(
        uid="gpi-standings",
        title="Points & standings",
        description="Championship standings after every round: cumulative points, positions and the current tables.",
        variables=VARIABLES,
        panels=(
            lines("Drivers' championship: cumulative points", DRIVER_POINTS, Pos(0, 0, 16, 11), x="round", y="points",
                  series="driver", team_colours=True, x_label="Round", y_label="Points",
                  description="Points after each round of the season."),
            table("Drivers' standings", DRIVER_TABLE, Pos(16, 0, 8, 22),
                  description="The drivers' table after the latest round of the season."),
            lines("Drivers' championship position", DRIVER_POSITIONS, Pos(0, 11, 16, 11), x="round", y="position",
                  series="driver", invert_y=True, team_colours=True, x_label="Round",
                  y_label="Position", description="Championship position after each round."),
            lines("Constructors' championship: cumulative points", CONSTRUCTOR_POINTS, Pos(0, 22, 16, 11), x="round",
                  y="points", series="team", team_colours=True, x_label="Round", y_label="Points",
                  description="Constructors' points after each round."),
            table("Constructors' standings", CONSTRUCTOR_TABLE, Pos(16, 22, 8, 11),
                  description="The constructors' table after the latest round of the season."),
        ),
    )
