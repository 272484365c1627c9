"""Runs dashboard SQL against a local DuckDB warehouse, resolving template variables as Grafana does."""

from __future__ import annotations

import datetime as dt
import decimal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from grandprix_dashboards.panels import DashboardSpec, PanelSpec, Variable
from grandprix_dashboards.sql import DUCKDB, SqlSource, interpolate, render


class QueryError(RuntimeError):
    """A dashboard query failed; the message names the dashboard, panel and SQL."""


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    sql: str
    elapsed_ms: float

    def column(self, name: str) -> list[Any]:
        try:
            index = self.columns.index(name)
        except ValueError:
            raise KeyError(f"result has no column {name!r}; columns: {self.columns}") from None
        return [row[index] for row in self.rows]


class Warehouse:
    """A read-only connection to a DuckDB warehouse file."""

    def __init__(self, path: Path) -> None:
        if not Path(path).is_file():
            raise FileNotFoundError(f"warehouse file {path} does not exist")
        self.path = Path(path)
        self.con = duckdb.connect(str(path), read_only=True)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, source: SqlSource, values: Mapping[str, Sequence[str]], what: str = "query") -> Result:
        sql = interpolate(render(source, DUCKDB), values)
        start = time.perf_counter()
        try:
            cursor = self.con.execute(sql)
            rows = cursor.fetchall()
        except duckdb.Error as exc:
            raise QueryError(f"{what} failed: {exc}\n--- SQL ---\n{sql}") from exc
        elapsed = (time.perf_counter() - start) * 1000
        columns = [d[0] for d in cursor.description or []]
        return Result(
            columns=columns, rows=[tuple(_plain(v) for v in row) for row in rows], sql=sql, elapsed_ms=elapsed
        )


def _plain(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if value.tzinfo else value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class Option:
    """One value a variable offers: its key (what the SQL receives) and the name Grafana shows for it."""

    value: str
    text: str


def resolve_options(
    wh: Warehouse, spec: DashboardSpec, chosen: Mapping[str, str] | None = None
) -> dict[str, list[Option]]:
    """The options Grafana selects on load: each variable's default, else All (if offered), else the first value.

    `chosen` holds values a user picked (e.g. `{"season": "2023", "event": "Australian Grand Prix"}`), each one
    of its variable's options, by key or by shown name. Variables are resolved in order, so later queries see
    earlier selections (season → event → ...). Raises QueryError if a variable's query returns no values (the
    dashboard would be empty) or a chosen value is not offered.
    """
    chosen = dict(chosen or {})
    picked: dict[str, list[Option]] = {}
    for var in spec.variables:
        values = {name: [o.value for o in opts] for name, opts in picked.items()}
        offered = variable_choices(wh, spec, var, values)
        if not offered:
            raise QueryError(f"{spec.title}: variable ${var.name} has no values for {values}")
        if var.name in chosen:
            pick = chosen.pop(var.name)
            found = [o for o in offered if o.value == pick] or [o for o in offered if o.text == pick]
            if not found:
                shown = ", ".join(o.text for o in offered[:12]) + (", ..." if len(offered) > 12 else "")
                raise QueryError(f"{spec.title}: ${var.name} = {pick!r} is not one of its values ({shown})")
            picked[var.name] = found[:1]
        elif var.default is not None and (found := [o for o in offered if var.default in (o.value, o.text)]):
            picked[var.name] = found[:1]
        elif var.include_all:
            picked[var.name] = offered
        else:
            picked[var.name] = offered[:1]
    return picked


def resolve_variables(
    wh: Warehouse, spec: DashboardSpec, chosen: Mapping[str, str] | None = None
) -> dict[str, list[str]]:
    """The keys of the options Grafana selects on load (:func:`resolve_options`): what the panels' SQL receives."""
    return {name: [o.value for o in opts] for name, opts in resolve_options(wh, spec, chosen).items()}


def unknown_variables(specs: Sequence[DashboardSpec], chosen: Mapping[str, str]) -> list[str]:
    """Names in `chosen` that no dashboard has as a variable."""
    known = {var.name for spec in specs for var in spec.variables}
    return sorted(set(chosen) - known)


def variable_choices(
    wh: Warehouse, spec: DashboardSpec, var: Variable, values: Mapping[str, Sequence[str]]
) -> list[Option]:
    """A variable's options as Grafana reads its query: `__value`/`__text` columns, else the first column."""
    result = wh.run(var.query, values, what=f"{spec.title}: variable ${var.name}")
    value_at = result.columns.index("__value") if "__value" in result.columns else 0
    text_at = result.columns.index("__text") if "__text" in result.columns else value_at
    return [Option(str(row[value_at]), str(row[text_at])) for row in result.rows if row and row[value_at] is not None]


def variable_options(
    wh: Warehouse, spec: DashboardSpec, var: Variable, values: Mapping[str, Sequence[str]]
) -> list[str]:
    """The keys a variable offers."""
    return [o.value for o in variable_choices(wh, spec, var, values)]


def run_panel(wh: Warehouse, spec: DashboardSpec, panel: PanelSpec, values: Mapping[str, Sequence[str]]) -> Result:
    return wh.run(panel.sql, values, what=f"{spec.title}: panel {panel.title!r}")
