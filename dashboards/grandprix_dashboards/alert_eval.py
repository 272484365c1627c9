"""Evaluates the alert rules on the local DuckDB warehouse as Grafana would: each query's table becomes labelled
numbers (string columns are labels, the one numeric column the value), the math condition runs per label set,
and the annotations are rendered for each firing instance. Rules that look at recent races run for one chosen
session instead (`AlertQuery.for_session`), so historical races can be replayed.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from grandprix_dashboards import alerts
from grandprix_dashboards.query import QueryError, Warehouse

_CONDITION = re.compile(r"^\s*\$\{?(?P<ref>[A-Za-z]\w*)\}?\s*(?P<op>>=|<=|==|!=|>|<)\s*(?P<value>-?\d+(\.\d+)?)\s*$")
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
_TEMPLATE = re.compile(r"\{\{\s*\$(?P<kind>labels|values)\.(?P<name>\w+)(?:\.Value)?\s*\}\}")

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class AlertInstance:
    rule: str
    labels: dict[str, str]
    values: dict[str, float]
    summary: str
    description: str


def numbers(wh: Warehouse, query: alerts.AlertQuery, values: Mapping[str, Sequence[str]]) -> dict[Labels, float]:
    """The query's result as Grafana's numeric data: one number per label set (labels must be unique)."""
    result = wh.run(query.for_session(), values, what=f"alert query {query.ref_id}")
    if set(result.columns) != {*query.labels, query.value}:
        raise QueryError(f"alert query {query.ref_id} returned {result.columns}, expected {query.labels} + value")
    out: dict[Labels, float] = {}
    for row in result.rows:
        record = dict(zip(result.columns, row, strict=True))
        labels = tuple((name, str(record[name])) for name in query.labels)
        if labels in out:
            raise QueryError(f"alert query {query.ref_id}: two rows with labels {dict(labels)}")
        if record[query.value] is not None:
            out[labels] = float(record[query.value])
    return out


def condition(expression: str) -> tuple[str, Callable[[float], bool]]:
    """`$A >= 1.5` -> ("A", test); the subset of Grafana's math expressions the project's rules use."""
    match = _CONDITION.match(expression)
    if match is None:
        raise ValueError(f"unsupported condition {expression!r}: expected $REF <op> number")
    threshold, op = float(match["value"]), _OPS[match["op"]]
    return match["ref"], lambda v: op(v, threshold)


def _render(template: str, labels: Mapping[str, str], values: Mapping[str, float]) -> str:
    def sub(m: re.Match[str]) -> str:
        if m["kind"] == "labels":
            return labels.get(m["name"], "")
        value = values.get(m["name"])
        return "" if value is None else f"{value:g}"

    return _TEMPLATE.sub(sub, template)


def evaluate(
    wh: Warehouse, rule: alerts.AlertRuleSpec, values: Mapping[str, Sequence[str]] | None = None
) -> list[AlertInstance]:
    """The rule's firing instances (sorted by labels) for the given variable values (e.g. `session_key`)."""
    values = values or {}
    results = {q.ref_id: numbers(wh, q, values) for q in rule.queries}
    ref, test = condition(rule.condition)
    firing = []
    for labels, value in sorted(results[ref].items()):
        if not test(value):
            continue
        label_map = dict(labels)
        instance_values = {r: nums[labels] for r, nums in results.items() if labels in nums}
        firing.append(
            AlertInstance(
                rule.uid,
                label_map,
                instance_values,
                _render(rule.summary, label_map, instance_values),
                _render(rule.description, label_map, instance_values),
            )
        )
    return firing


@dataclass(frozen=True)
class FiringLap:
    session_key: str
    event: str
    session: str
    driver: str
    team: str
    lap: int
    delta_s: float
    drop_s: float


def firing_laps(wh: Warehouse, session_key: str) -> list[FiringLap]:
    """Every lap of one session the pace-change rule fires on (`alerts.firing_laps`)."""
    result = wh.run(alerts.firing_laps, {"session_key": [session_key]}, what="pace-change laps")
    return [FiringLap(**dict(zip(result.columns, row, strict=True))) for row in result.rows]


def races(wh: Warehouse, season: int | None = None) -> list[str]:
    """Session keys of the races and sprints in the pace mart (of one season), in order."""
    sql = f"select distinct session_key from {alerts.PACE_MART}"
    if season is not None:
        sql += f" where season = {int(season)}"
    return [str(r[0]) for r in wh.run(sql + " order by 1", {}, what="races").rows]


def instances_for(wh: Warehouse, session_key: str) -> list[AlertInstance]:
    return evaluate(wh, alerts.PACE_CHANGE, {"session_key": [session_key]})


def as_rows(laps: Sequence[FiringLap]) -> list[dict[str, Any]]:
    return [lap.__dict__ for lap in laps]
