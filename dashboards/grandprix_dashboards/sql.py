"""SQL shared by every panel: the two warehouse dialects and Grafana variable interpolation.

Panel SQL is written once. Where DuckDB and Snowflake disagree, the panel calls a method of
:class:`Dialect` (the one place that knows the difference); everything else is SQL both accept.
Result columns are aliased with quoted lower-case names (`as "lap"`) so that both warehouses return
the same field names (Snowflake would otherwise upper-case them).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum


class DialectName(str, Enum):
    DUCKDB = "duckdb"
    SNOWFLAKE = "snowflake"


@dataclass(frozen=True)
class Dialect:
    """The few expressions that differ between DuckDB and Snowflake."""

    name: DialectName

    def now(self) -> str:
        return "current_timestamp" if self.name is DialectName.DUCKDB else "current_timestamp()"

    def hours_since(self, column: str) -> str:
        """Hours (fractional) from a UTC timestamp column to now."""
        if self.name is DialectName.DUCKDB:
            return f"(date_diff('second', {column}, current_timestamp) / 3600.0)"
        return f"(datediff(second, {column}, current_timestamp()) / 3600.0)"

    def hours_before_now(self, hours: int) -> str:
        """A timestamp `hours` hours ago."""
        if self.name is DialectName.DUCKDB:
            return f"(current_timestamp - interval '{int(hours)} hours')"
        return f"dateadd(hour, -{int(hours)}, current_timestamp())"


DUCKDB = Dialect(DialectName.DUCKDB)
SNOWFLAKE = Dialect(DialectName.SNOWFLAKE)
DIALECTS: Mapping[DialectName, Dialect] = {DialectName.DUCKDB: DUCKDB, DialectName.SNOWFLAKE: SNOWFLAKE}

SqlSource = str | Callable[[Dialect], str]


def render(source: SqlSource, dialect: Dialect) -> str:
    """The panel SQL for one dialect (still containing Grafana variables)."""
    text = source(dialect) if callable(source) else source
    return _dedent(text)


def _dedent(text: str) -> str:
    lines = [line.rstrip() for line in text.strip("\n").splitlines()]
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents, default=0)
    return "\n".join(line[cut:] for line in lines)


# --- Grafana variable interpolation (the subset the dashboards use) -------------------------------

_VAR_RE = re.compile(r"\$\{(?P<name>\w+)(?::(?P<fmt>\w+))?\}|\$(?P<bare>\w+)")
FORMATS = ("raw", "sqlstring", "percentencode", "csv")
# A viewer can set any value (`?var-event=...`), so panel SQL takes a variable only as `'${x:percentencode}'`:
# Grafana's percentencode (encodeURIComponent, then !'()* too) leaves only A-Z a-z 0-9 - _ . ~ and %XX, so no
# quote and no backslash reaches either warehouse's parser and the value cannot leave its literal. `sqlstring` is
# not enough: it doubles `'` and writes `"` as `\"` but leaves backslashes alone, and Snowflake reads `\'` inside a
# literal as an escaped quote (`x\' or 1=1 --` ends the literal there).
_SAFE_RE = re.compile(r"'\$\{\w+:percentencode\}'")
# Every variable's value is therefore a key in the safe alphabet, which percent-encoding leaves as it is (its
# shown name is another column, panels.options): the season, the event's round, the session code, the driver's
# code (FastF1) or Ergast reference. queries_test checks every key of the real data against this.
SAFE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def key(variable: str) -> str:
    """The selected value of a single-value variable, as a string literal that no value can leave."""
    return f"'${{{variable}:percentencode}}'"


def number(variable: str) -> str:
    """A single-value variable whose keys are integers: a hostile value fails the cast instead of widening the
    query."""
    return f"cast({key(variable)} as integer)"


# Grafana percent-encodes a multi-value selection as `{VER,NOR}` → `%7BVER%2CNOR%7D` (a single value may come
# without the braces): with the braces dropped it is a `%2C`-separated list of keys, which contain no `%`.
_LIST_SEPARATOR = "'%2C'"


def selected(column: str, variable: str = "driver") -> str:
    """`column` (a key) is one of the values selected in a multi-value variable (`column in (...)`, safely)."""
    listed = f"replace(replace({key(variable)}, '%7B', ''), '%7D', '')"
    return (
        f"contains({_LIST_SEPARATOR} || {listed} || {_LIST_SEPARATOR}, "
        f"{_LIST_SEPARATOR} || {column} || {_LIST_SEPARATOR})"
    )


SEASON = number("season")
# The event is picked by its round (per season); the shown name is the event's name.
SESSION_FILTER = f"season = {SEASON} and round = {number('event')} and session = {key('session')}"
DRIVER_FILTER = selected("driver")


class UnknownVariable(KeyError):
    """A query referenced a variable that has no value."""


def quote(value: str) -> str:
    """An SQL string literal as Grafana's `sqlstring` format writes it (`'` doubled, `"` as `\\"`, backslashes as
    they are: grafana/scenes `sqlStringFormatter`)."""
    return "'" + value.replace("'", "''").replace('"', '\\"') + "'"


def percent_encode(value: str) -> str:
    """Grafana's `percentencode` format (encodeURIComponent, then `!'()*` too)."""
    return urllib.parse.quote(value, safe="")


def variables_in(sql: str) -> list[str]:
    """Names of the Grafana variables a query references, in order of first use."""
    names: list[str] = []
    for match in _VAR_RE.finditer(sql):
        name = match["name"] or match["bare"]
        if name not in names:
            names.append(name)
    return names


def unsafe_variables(sql: str) -> list[str]:
    """The variable references of a query that could let a value out of a literal (`$x`, `${x:raw}`,
    `${x:sqlstring}`, ...)."""
    return [m[0] for m in _VAR_RE.finditer(_SAFE_RE.sub("", sql))]


def interpolate(sql: str, values: Mapping[str, Sequence[str]]) -> str:
    """Substitutes `$name`, `${name}`, `${name:sqlstring}` and `${name:percentencode}` as Grafana does.

    Multi-value variables join with commas; `sqlstring` quotes each value and escapes quotes.
    """

    def substitute(match: re.Match[str]) -> str:
        name = match["name"] or match["bare"]
        fmt = match["fmt"] or "raw"
        if name not in values:
            raise UnknownVariable(f"query uses variable ${name} but no value was given (have: {sorted(values)})")
        if fmt not in FORMATS:
            raise ValueError(f"variable ${{{name}:{fmt}}}: unsupported format {fmt!r}; expected one of {FORMATS}")
        items = list(values[name])
        if fmt == "sqlstring":
            return ",".join(quote(v) for v in items)
        if fmt == "percentencode":
            return percent_encode(items[0] if len(items) == 1 else "{" + ",".join(items) + "}")
        return ",".join(items)

    return _VAR_RE.sub(substitute, sql)
