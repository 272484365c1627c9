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
        return Result(columns=columns, rows=[tuple(_plain(v) for v in row) for row in rows], sql=sql,
                      elapsed_ms=elapsed)


def _plain(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if value.tzinfo else value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def resolve_variables(wh: Warehouse, spec: DashboardSpec,
                      chosen: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """The values Grafana selects on load: each variable's default, else All (if offered), else the first value.

    `chosen` holds values a user picked (e.g. `{"season": "2023", "event": "Australian Grand Prix"}`); each must
    be one of its variable's options. Variables are resolved in order, so later queries see earlier selections
    (season → event → ...). Raises QueryError if a variable's query returns no values (the dashboard would be
    empty) or a chosen value is not offered.
    """
    chosen = dict(chosen or {})
    values: dict[str, list[str]] = {}
    for var in spec.variables:
        options = variable_options(wh, spec, var, values)
        if not options:
            raise QueryError(f"{spec.title}: variable ${var.name} has no values for {values}")
        if var.name in chosen:
            pick = chosen.pop(var.name)
            if pick not in options:
                shown = ", ".join(options[:12]) + (", ..." if len(options) > 12 else "")
                raise QueryError(f"{spec.title}: ${var.name} = {pick!r} is not one of its values ({shown})")
            values[var.name] = [pick]
        elif var.default is not None and var.default in options:
            values[var.name] = [var.default]
        elif var.include_all:
            values[var.name] = options
        else:
            values[var.name] = [options[0]]
    return values


def unknown_variables(specs: Sequence[DashboardSpec], chosen: Mapping[str, str]) -> list[str]:
    """Names in `chosen` that no dashboard has as a variable."""
    known = {var.name for spec in specs for var in spec.variables}
    return sorted(set(chosen) - known)


def variable_options(wh: Warehouse, spec: DashboardSpec, var: Variable,
                     values: Mapping[str, Sequence[str]]) -> list[str]:
    result = wh.run(var.query, values, what=f"{spec.title}: variable ${var.name}")
    return [str(row[0]) for row in result.rows if row and row[0] is not None]


def run_panel(wh: Warehouse, spec: DashboardSpec, panel: PanelSpec, values: Mapping[str, Sequence[str]]) -> Result:
    return wh.run(panel.sql, values, what=f"{spec.title}: panel {panel.title!r}")
