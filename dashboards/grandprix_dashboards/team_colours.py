"""Team colours for series named after a team (`McLaren`) or a driver and a team (`PIA · McLaren`).

Grafana cannot colour a series from a value in the data, so the dashboards carry one field override
per team: fields whose name is the team, or ends in ` · <team>`, get the team's colour. The colours are
FastF1's `TeamColor` of each team's latest season, under both the FastF1 and the Ergast team names,
committed in `team_colours.json` and regenerated from a warehouse with

    python -m grandprix_dashboards team-colours --warehouse .local/warehouse.duckdb

A test compares the committed file with the warehouse built from the shared real data. The local
preview colours its lines with :func:`colour_of`, which applies the same patterns as Grafana does.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import duckdb

from grandprix_dashboards.panels import SeriesStyle, js_escape, python_regex

SEPARATOR = " · "
COLOURS_FILE = Path(__file__).with_name("team_colours.json")
_HEX = re.compile(r"^#[0-9A-F]{6}$")

# The latest colour of every FastF1 team name, and the Ergast constructor names (dim_teams) with the
# colour of the FastF1 team they map to; a name known to both takes the colour of its latest season.
COLOURS_SQL = """
    with fastf1_names as (
        select team_name as name, upper(team_colour) as colour, season
        from analytics.int_fastf1__session_drivers
        where team_name is not null and team_colour is not null
    ),
    latest_fastf1 as (
        select name, colour, season,
               row_number() over (partition by name order by season desc) as recency
        from fastf1_names
    ),
    ergast_names as (
        select teams.team_name as name, latest_fastf1.colour, latest_fastf1.season
        from analytics.dim_teams as teams
        inner join latest_fastf1 on teams.fastf1_team_name = latest_fastf1.name and latest_fastf1.recency = 1
    ),
    named as (
        select name, colour, season from latest_fastf1 where recency = 1
        union all
        select name, colour, season from ergast_names
    )
    select name, colour
    from named
    qualify row_number() over (partition by name order by season desc, colour) = 1
    order by name
"""


def label_sql(driver: str, team: str, teammate_rank: str | None = None) -> str:
    """SQL for a series label `driver · team` (just the driver when the team is unknown).

    With `teammate_rank` (an SQL expression, see :func:`teammate_rank_sql`) a team's second and third drivers
    are marked `PER (2) · Red Bull Racing`: :func:`teammate_styles` draws them dashed / dotted (lines) or
    lighter (bars), so team-mates in one colour stay apart.
    """
    mark = (
        ""
        if teammate_rank is None
        else (f" || case when {teammate_rank} > 1 then ' (' || cast({teammate_rank} as varchar) || ')' else '' end")
    )
    return f"{driver}{mark} || coalesce('{SEPARATOR}' || {team}, '')"


def driver_of(label: str) -> str:
    """The driver of a series label: `PER (2) · Red Bull Racing` → `PER`."""
    return label.split(SEPARATOR)[0].split(" (")[0]


def teammate_rank_sql(driver: str, team: str, partition: str = "") -> str:
    """SQL: 1 for the first of a team's drivers in the rows (by driver code), 2 for the second, ..."""
    over = f"{partition}, {team}" if partition else team
    return f"dense_rank() over (partition by {over} order by {driver})"


# A team's second driver: dashed (lines) or lighter (bars); the third (a mid-season change): dotted / lighter still.
TEAMMATE_LINE_STYLES = {2: "dash", 3: "dot"}
TEAMMATE_FILL_OPACITY = {2: 40, 3: 20}


def teammate_pattern(rank: int) -> str:
    """Series of the `rank`-th driver of a team (`PER (2) · Red Bull Racing`, or `… · PER (2) · Red Bull Racing`)."""
    return f"/ \\({rank}\\)({SEPARATOR}[^·]+)?$/"


def teammate_styles(bars: bool = False) -> tuple[SeriesStyle, ...]:
    if bars:
        return tuple(
            SeriesStyle(teammate_pattern(rank), fill_opacity=opacity) for rank, opacity in TEAMMATE_FILL_OPACITY.items()
        )
    return tuple(SeriesStyle(teammate_pattern(rank), line_style=style) for rank, style in TEAMMATE_LINE_STYLES.items())


def colours_from_warehouse(path: Path) -> dict[str, str]:
    """Team name → '#RRGGBB' from a DuckDB warehouse built by the pipeline."""
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(COLOURS_SQL).fetchall()
    return {str(name): str(colour) for name, colour in rows}


def write_colours(colours: dict[str, str], path: Path = COLOURS_FILE) -> Path:
    bad = {name: colour for name, colour in colours.items() if not _HEX.match(colour)}
    if bad:
        raise ValueError(f"team colours must be '#RRGGBB': {bad}")
    if not colours:
        raise ValueError("no team colours found: is the warehouse built (analytics.dim_teams)?")
    path.write_text(json.dumps(dict(sorted(colours.items())), indent=2, ensure_ascii=False) + "\n")
    return path


@cache
def team_colours() -> dict[str, str]:
    """The committed team colours (team name → '#RRGGBB')."""
    colours: dict[str, str] = json.loads(COLOURS_FILE.read_text())
    return colours


def pattern(team: str) -> str:
    """Grafana `byRegexp` matcher for a team's series: `/(^| · )<team>$/` (a JavaScript regex)."""
    return f"/(^|{SEPARATOR}){js_escape(team)}$/"


def styles(bars: bool = False) -> tuple[SeriesStyle, ...]:
    """Every team's series in its colour, then the team-mate marks (a panel with `team_colours`)."""
    colours = tuple(SeriesStyle(pattern(team), colour=colour) for team, colour in team_colours().items())
    return colours + teammate_styles(bars)


def colour_of(series: str) -> str | None:
    """The colour Grafana gives a series through the team styles (the last matching override wins)."""
    return style_of(series, styles()).get("colour")


def style_of(series: str, series_styles: tuple[SeriesStyle, ...]) -> dict[str, Any]:
    """What the matching styles set for a series, later styles winning (as Grafana applies overrides)."""
    found: dict[str, Any] = {}
    for style in series_styles:
        if re.search(python_regex(style.pattern), series):
            found.update({k: v for k, v in vars(style).items() if k != "pattern" and v not in (None, False)})
    return found
