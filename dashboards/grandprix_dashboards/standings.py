"""Points & standings: drivers' and constructors' championships after every round of a season.

The tables show the championship points (those the season's regulations count) and, where they
differ, every point scored (results dropped under the best-N rules before 1991, removed by a
decision); unranked entries keep a row without a position and say why; entries level on points say
which countback separated them.
"""

from __future__ import annotations

from grandprix_dashboards.panels import DashboardSpec, PanelSpec, Pos, Variable, lines, options, table
from grandprix_dashboards.sql import SEASON, selected
from grandprix_dashboards.team_colours import label_sql, teammate_rank_sql

DRIVERS = "analytics.mart_driver_standings"
CONSTRUCTORS = "analytics.mart_constructor_standings"


def _driver(table: str = "") -> str:
    """The driver's label: Ergast has no three-letter codes for most drivers before the late 1990s."""
    prefix = f"{table}." if table else ""
    return f"coalesce({prefix}driver_code, {prefix}driver_name)"


DRIVER = _driver()

VARIABLES = (
    Variable("season", "Season", f"select distinct {options('season')} from {DRIVERS} order by 1 desc"),
    # the drivers who scored in the season, in the order of the latest table: keyed by the Ergast driver reference
    # (`max_verstappen`), shown by code or name
    Variable(
        "driver",
        "Driver",
        f"select {options('driver_id', DRIVER)} from {DRIVERS} where season = {SEASON} and points_scored > 0 "
        f"and round = (select max(round) from {DRIVERS} where season = {SEASON}) "
        f"order by position, cumulative_points desc, {DRIVER}",
        multi=True,
        include_all=True,
    ),
)


def _driver_filter(table: str = "") -> str:
    return selected(f"{table}.driver_id" if table else "driver_id")


# One line per driver, named `VER · Red Bull` after the driver's team in the latest round (coloured by
# team; a mid-season move keeps one line), rows in round order (x ascending).
def _driver_lines(value: str, alias: str) -> str:
    return f"""
    with latest_team as (
      select {DRIVER} as driver, team_name
      from {DRIVERS}
      where season = {SEASON}
      qualify row_number() over (partition by {DRIVER} order by round desc) = 1
    )
    select standings.round as "round",
           {label_sql("latest_team.driver", "latest_team.team_name",
                      teammate_rank_sql("latest_team.driver", "latest_team.team_name"))} as "driver",
           standings.{value} as "{alias}"
    from {DRIVERS} as standings
    inner join latest_team on {_driver("standings")} = latest_team.driver
    where standings.season = {SEASON} and {_driver_filter("standings")}
    order by standings.round, latest_team.driver
"""


DRIVER_POINTS = _driver_lines("cumulative_points", "points")
DRIVER_POSITIONS = _driver_lines("position", "position")

CONSTRUCTOR_POINTS = f"""
    select round as "round", team_name as "team", cumulative_points as "points"
    from {CONSTRUCTORS}
    where season = {SEASON}
    order by round, team_name
"""

# Why an entry has no position, or which countback separated it from an entry level on points
# ("tie: 2nd places": level on points, separated by the count of second places).
NOTE = """
    case
      when not is_ranked then 'unranked: ' || unranked_reason
      when shares_position then 'tie: every place level, position shared'
      when countback_place = 1 then 'tie: wins'
      when countback_place is not null then 'tie: ' || cast(countback_place as varchar)
        || case countback_place when 2 then 'nd' when 3 then 'rd' else 'th' end || ' places'
    end"""

# Counted points, and every point scored only where the two differ.
SCORED = "case when points_scored <> cumulative_points then points_scored end"


def _table(relation: str, name_columns: str) -> str:
    return f"""
    select position as "Pos", {name_columns}, cumulative_points as "Points", {SCORED} as "Scored",
           wins as "Wins", {NOTE} as "Note", round as "After round", event_name as "Event"
    from {relation}
    where season = {SEASON} and round = (select max(round) from {relation} where season = {SEASON})
    order by is_ranked desc, position, cumulative_points desc, points_scored desc
"""


DRIVER_TABLE = _table(DRIVERS, 'driver_name as "Driver", team_name as "Team"')
CONSTRUCTOR_TABLE = _table(CONSTRUCTORS, 'team_name as "Team"')


def _by_round(
    title: str, sql: str, pos: Pos, *, y: str, series: str, y_label: str, description: str, invert_y: bool = False
) -> PanelSpec:
    """A line per driver or team (the column `series`, in team colours) over the season's rounds."""
    return lines(
        title,
        sql,
        pos,
        x="round",
        y=y,
        series=series,
        team_colours=True,
        x_label="Round",
        y_label=y_label,
        invert_y=invert_y,
        description=description,
    )


def dashboard() -> DashboardSpec:
    return DashboardSpec(
        uid="gpi-standings",
        title="Points & standings",
        description=(
            "Championship standings after every round, computed from the results under each season's "
            "regulations: championship points, positions and the current tables."
        ),
        variables=VARIABLES,
        panels=(
            _by_round(
                "Drivers' championship: cumulative points",
                DRIVER_POINTS,
                Pos(0, 0, 16, 11),
                y="points",
                series="driver",
                y_label="Points",
                description="Championship points after each round: the results the season's regulations count.",
            ),
            table(
                "Drivers' standings",
                DRIVER_TABLE,
                Pos(16, 0, 8, 22),
                description=(
                    "The drivers' table after the latest round of the season. Points: those counted; "
                    "Scored: every point scored, where results were dropped or removed. Unranked "
                    "drivers have no position and say why; tie: the countback that separated drivers "
                    "level on points."
                ),
            ),
            _by_round(
                "Drivers' championship position",
                DRIVER_POSITIONS,
                Pos(0, 11, 16, 11),
                y="position",
                series="driver",
                invert_y=True,
                y_label="Position",
                description="Championship position after each round (none while unranked).",
            ),
            _by_round(
                "Constructors' championship: cumulative points",
                CONSTRUCTOR_POINTS,
                Pos(0, 22, 16, 11),
                y="points",
                series="team",
                y_label="Points",
                description="Constructors' championship points after each round (awarded from 1958).",
            ),
            table(
                "Constructors' standings",
                CONSTRUCTOR_TABLE,
                Pos(16, 22, 8, 11),
                description=(
                    "The constructors' table after the latest round of the season: counted points, "
                    "scored points where they differ, unranked constructors with the reason."
                ),
            ),
        ),
    )
