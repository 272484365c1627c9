"""Dashboard definitions independent of Grafana and of the datasource.

A dashboard is a :class:`DashboardSpec`: template variables plus panels, each panel with its SQL
(written once, see :mod:`grandprix_dashboards.sql`), its kind of chart and which result columns are
the x axis, the values and the series. :mod:`grandprix_dashboards.grafana` turns a spec into Grafana
JSON for a datasource; :mod:`grandprix_dashboards.preview` runs the same SQL and draws it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import TypedDict, Unpack

from grandprix_dashboards.sql import SEASON, SqlSource, key, number

GRID_COLUMNS = 24

# Lap and sector times (values in ms) as m:ss.SSS: Grafana's `time:` custom unit formats the value as a
# timestamp in the dashboard's time zone, which the dashboards pin to UTC (grafana.dashboard), so 92123 ms
# reads 1:32.123.
LAP_TIME = "time:m:ss.SSS"


class Kind(str, Enum):
    LINES = "lines"  # numeric x (lap, round), one line per series: Grafana "trend"
    SCATTER = "scatter"  # numeric x and y points: Grafana "xychart"
    BARS = "bars"  # categorical x: Grafana "barchart"
    TABLE = "table"
    STAT = "stat"


@dataclass(frozen=True)
class Pos:
    """Grafana gridPos: x/w in columns of a 24-column grid, y/h in rows of 30 px."""

    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class Variable:
    """A query-backed template variable. `default` None means: the first value the query returns."""

    name: str
    label: str
    query: SqlSource
    default: str | None = None
    multi: bool = False
    include_all: bool = False


@dataclass(frozen=True)
class SeriesStyle:
    """A Grafana field override for the series (or table columns) whose name matches a JavaScript regex.

    `pattern` is written as Grafana's `byRegexp` matcher takes it (`/.../`); the preview applies the same
    styles to its traces. Later styles win over earlier ones, as later overrides do in Grafana.
    """

    pattern: str
    colour: str | None = None
    line_style: str | None = None  # "dash" | "dot"
    fill_opacity: int | None = None  # 0..100 (bars)
    unit: str | None = None
    draw: str | None = None  # "bars" | "points" (trend panels)
    hidden: bool = False  # drawn, but left out of the legend and the tooltip
    invisible: bool = False  # not drawn (still stacked under the next segment), out of legend and tooltip

    def __post_init__(self) -> None:
        if not (self.pattern.startswith("/") and self.pattern.rindex("/") > 0):
            raise ValueError(f"series pattern {self.pattern!r} must be a /regex/")
        if self.line_style not in (None, "dash", "dot"):
            raise ValueError(f"unknown line style {self.line_style!r}")
        if self.draw not in (None, "bars", "points"):
            raise ValueError(f"unknown draw style {self.draw!r}")


@dataclass(frozen=True)
class PanelSpec:
    title: str
    kind: Kind
    sql: SqlSource
    pos: Pos
    description: str = ""
    x: str | None = None  # x column (LINES, SCATTER, BARS)
    y: tuple[str, ...] = ()  # value columns; one line/bar group each
    series: str | None = None  # column whose values split rows into series (long format)
    unit: str = ""  # Grafana unit id, e.g. "s", "celsius", "short"
    invert_y: bool = False  # lower is better (positions)
    right_y: tuple[str, ...] = ()  # value columns drawn against a second (right) axis
    right_unit: str = ""
    x_label: str = ""
    y_label: str = ""
    stack: bool = False  # stacked bars
    team_colours: bool = False  # series are teams or `driver · team`: coloured by team (team_colours.py)
    bands: tuple[tuple[str, str], ...] = ()  # (series, colour): drawn as translucent full-height bars (flag laps)
    empty_ok: str | None = None  # why an empty result is a valid answer (e.g. "no failures")
    styles: tuple[SeriesStyle, ...] = ()  # per-series (or per-column) overrides, after the team colours
    horizontal: bool = False  # bars: categories down the left, values along the bottom
    show_values: bool = False  # bars: print each bar's value on it
    legend: bool = True

    @property
    def columns(self) -> tuple[str, ...]:
        cols = [c for c in (self.x, self.series) if c]
        return (*cols, *self.y)


@dataclass(frozen=True)
class DashboardSpec:
    uid: str
    title: str
    description: str
    variables: tuple[Variable, ...]
    panels: tuple[PanelSpec, ...]
    tags: tuple[str, ...] = ("grand-prix-insights",)
    refresh: str = "5m"
    time_from: str = "now-7d"

    @property
    def slug(self) -> str:
        return self.uid.removeprefix("gpi-")


# --- shared panel helpers --------------------------------------------------------------------------


class _ValueOptions(TypedDict, total=False):
    """What every chart with axes may set besides its x and y columns and the x axis's label (see PanelSpec)."""

    series: str | None
    unit: str
    y_label: str
    description: str


class _PlotOptions(_ValueOptions, total=False):
    x_label: str


class _LineStyleOptions(TypedDict, total=False):
    invert_y: bool
    team_colours: bool
    bands: tuple[tuple[str, str], ...]
    right_y: tuple[str, ...]
    right_unit: str
    styles: tuple[SeriesStyle, ...]


class LineOptions(_PlotOptions, _LineStyleOptions, total=False):
    """A line chart's options besides its x and y columns."""


class LapLineOptions(_ValueOptions, _LineStyleOptions, total=False):
    """A line chart's options but the x axis's, which is the lap (:func:`lines_by_lap`)."""


class BarOptions(_PlotOptions, total=False):
    stack: bool
    team_colours: bool
    styles: tuple[SeriesStyle, ...]
    horizontal: bool
    show_values: bool
    legend: bool


class TableOptions(TypedDict, total=False):
    description: str
    empty_ok: str | None
    styles: tuple[SeriesStyle, ...]


def lines(
    title: str, sql: SqlSource, pos: Pos, *, x: str, y: str | tuple[str, ...], **options: Unpack[LineOptions]
) -> PanelSpec:
    return PanelSpec(title, Kind.LINES, sql, pos, x=x, y=_tuple(y), **options)


def lines_by_lap(
    title: str, sql: SqlSource, pos: Pos, *, y: str | tuple[str, ...], **options: Unpack[LapLineOptions]
) -> PanelSpec:
    """Lines over a session's laps: the x axis is the result column `lap`, labelled "Lap"."""
    return lines(title, sql, pos, x="lap", y=y, x_label="Lap", **options)


def scatter(title: str, sql: SqlSource, pos: Pos, *, x: str, y: str, **options: Unpack[_PlotOptions]) -> PanelSpec:
    return PanelSpec(title, Kind.SCATTER, sql, pos, x=x, y=(y,), **options)


def bars(title: str, sql: SqlSource, pos: Pos, *, x: str, y: str, **options: Unpack[BarOptions]) -> PanelSpec:
    return PanelSpec(title, Kind.BARS, sql, pos, x=x, y=(y,), **options)


def table(title: str, sql: SqlSource, pos: Pos, **options: Unpack[TableOptions]) -> PanelSpec:
    return PanelSpec(title, Kind.TABLE, sql, pos, **options)


def column_units(units: dict[str, str]) -> tuple[SeriesStyle, ...]:
    """Table columns shown in a unit, e.g. `{"Median lap": LAP_TIME}`."""
    return tuple(SeriesStyle(f"/^{js_escape(name)}$/", unit=unit) for name, unit in units.items())


_JS_SPECIAL = re.compile(r"[.*+?^${}()|\[\]\\/]")


def js_escape(text: str) -> str:
    """`text` as a literal inside a JavaScript regex (Grafana's `byRegexp` matchers)."""
    return _JS_SPECIAL.sub(lambda m: "\\" + m.group(0), text)


def python_regex(js: str) -> str:
    """The Python spelling of a `/.../` JavaScript regex (the preview applies the Grafana matchers)."""
    return js[1 : js.rindex("/")].replace("\\/", "/")


def stat(title: str, sql: SqlSource, pos: Pos, *, y: str, unit: str = "", description: str = "") -> PanelSpec:
    return PanelSpec(title=title, kind=Kind.STAT, sql=sql, pos=pos, y=(y,), unit=unit, description=description)


def _tuple(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else value


# --- shared template variables ---------------------------------------------------------------------

SESSION_ORDER = (
    "case session when 'R' then 0 when 'S' then 1 when 'Q' then 2 when 'SQ' then 3 when 'SS' then 4 else 5 end"
)


def options(value: str, text: str | None = None) -> str:
    """A variable query's select list: each option's key (`value`, a key in `sql.SAFE_KEY`'s alphabet, which the
    panels compare percent-encoded) and the name shown for it (`text`, by default the key).

    Both conventions Grafana reads are emitted: `__value`/`__text` (Grafana's SQL datasources and their
    `SqlDatasource` base, e.g. the DuckDB plugin's `transformMetricFindResponse`) and `value`/`text` string fields
    (Grafana's generic `toMetricFindValues`, used by plugins without their own, e.g. Michelin's Snowflake plugin).
    """
    as_text = f"cast({value} as varchar)"
    shown = text or as_text
    return f'{as_text} as "__value", {shown} as "__text", {as_text} as "value", {shown} as "text"'


def session_variables(relation: str, *, driver_column: str | None = "driver") -> tuple[Variable, ...]:
    """season → event → session (→ driver) chained on one relation; defaults: latest season/event, race first.

    The event's key is its round (its name is shown); the session's its code, the driver's the driver code."""
    where_season = f"where season = {SEASON}"
    where_event = f"{where_season} and round = {number('event')}"
    where_session = f"{where_event} and session = {key('session')}"
    variables = [
        Variable("season", "Season", f"select distinct {options('season')} from {relation} order by 1 desc"),
        Variable(
            "event",
            "Event",
            f"select {options('round', 'event_name')} from {relation} {where_season} "
            "group by round, event_name order by round desc",
        ),
        Variable(
            "session",
            "Session",
            f"select {options('session')} from {relation} {where_event} group by session "
            f"order by min({SESSION_ORDER})",
        ),
    ]
    if driver_column:
        variables.append(
            Variable(
                "driver",
                "Driver",
                f"select distinct {options(driver_column)} from {relation} {where_session} order by 1",
                multi=True,
                include_all=True,
            )
        )
    return tuple(variables)
