"""Checks of generated dashboard JSON: Grafana's schema, the 24-column grid, and the datasource plugin shapes.

The schema is `schema/dashboard.schema.json`, generated from the npm `@grafana/schema` TypeScript types
(see `schema/regenerate.sh`) and committed, so no npm is needed here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from f1common.json_paths import matching_paths
from grandprix_dashboards.datasources import Datasource, Format, TargetShape
from grandprix_dashboards.panels import GRID_COLUMNS

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "dashboard.schema.json"
COMMON_TARGET_KEYS = frozenset({"refId", "datasource", "hide"})
# Michelin's plugin reads queryText, queryType, timeColumns and fillMode (pkg/query.go queryModel).
TARGET_KEYS: dict[TargetShape, frozenset[str]] = {
    TargetShape.SQLDS: COMMON_TARGET_KEYS | {"rawSql", "format"},
    TargetShape.MICHELIN: COMMON_TARGET_KEYS | {"queryText", "queryType", "timeColumns", "fillMode"},
}


@cache
def _validator() -> jsonschema.Draft7Validator:
    if not SCHEMA_PATH.is_file():
        raise FileNotFoundError(f"Grafana dashboard schema missing at {SCHEMA_PATH}; run schema/regenerate.sh")
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def schema_errors(dashboard: dict[str, Any]) -> list[str]:
    """Violations of Grafana's dashboard schema, as `path: message`."""
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in _validator().iter_errors(dashboard)
    ]


def null_paths(value: Any, path: str = "") -> Iterator[str]:
    """Paths of `null`s other than a threshold step's `value` (which Grafana requires to be null)."""
    return matching_paths(value, _is_unexpected_null, path)


def _is_unexpected_null(container: Any, key: Any, item: Any) -> bool:
    """A `null` object member, unless it is the `value` of a threshold step (an object with `color` and `value`)."""
    if not isinstance(container, dict) or item is not None:
        return False
    return not (key == "value" and "color" in container and "value" in container)


def layout_problems(dashboard: dict[str, Any]) -> list[str]:
    """Panels outside the 24-column grid, without a size, or overlapping another panel."""
    problems: list[str] = []
    boxes: list[tuple[str, int, int, int, int]] = []
    for panel in dashboard.get("panels", []):
        title = panel.get("title", f"panel {panel.get('id')}")
        pos = panel.get("gridPos") or {}
        x, y, w, h = (pos.get(k) for k in ("x", "y", "w", "h"))
        if not all(isinstance(v, int) for v in (x, y, w, h)):
            problems.append(f"{title}: gridPos needs integer x, y, w, h (got {pos})")
            continue
        assert isinstance(x, int) and isinstance(y, int) and isinstance(w, int) and isinstance(h, int)
        if x < 0 or y < 0 or w < 1 or h < 1 or x + w > GRID_COLUMNS:
            problems.append(f"{title}: gridPos {pos} is outside the {GRID_COLUMNS}-column grid")
        for other, ox, oy, ow, oh in boxes:
            if x < ox + ow and ox < x + w and y < oy + oh and oy < y + h:
                problems.append(f"{title}: overlaps {other}")
        boxes.append((title, x, y, w, h))
    ids = [p.get("id") for p in dashboard.get("panels", [])]
    if len(ids) != len(set(ids)):
        problems.append(f"panel ids are not unique: {ids}")
    return problems


def target_problems(target: dict[str, Any], ds: Datasource) -> list[str]:
    """A query target (of a panel or an alert rule) that the plugin would not read as meant."""
    problems: list[str] = []
    extra = set(target) - TARGET_KEYS[ds.shape]
    if extra:
        problems.append(f"target has fields {sorted(extra)} that {ds.plugin} does not read")
    sql = target.get(ds.sql_key)
    if not isinstance(sql, str) or not sql.strip():
        problems.append(f"target has no {ds.sql_key}")
    valid_formats = {ds.format_value(f) for f in Format}
    fmt = target.get(ds.format_key)
    if fmt not in valid_formats or type(fmt) is not (int if ds.numeric_format else str):
        problems.append(f"{ds.format_key} {fmt!r} is not one of {sorted(map(str, valid_formats))} for {ds.plugin}")
    if ds.shape is TargetShape.MICHELIN and fmt == ds.format_value(Format.TIME_SERIES):
        columns = target.get("timeColumns")
        if not (isinstance(columns, list) and columns and all(isinstance(c, str) for c in columns)):
            problems.append("a Michelin time-series target needs timeColumns")
    return problems


def datasource_problems(dashboard: dict[str, Any], ds: Datasource) -> list[str]:
    """Panels, targets and variables whose datasource or query fields do not match the plugin."""
    problems: list[str] = []
    for panel in dashboard.get("panels", []):
        title = panel.get("title")
        if panel.get("datasource") != ds.ref:
            problems.append(f"{title}: datasource {panel.get('datasource')} is not {ds.ref}")
        targets = panel.get("targets") or []
        if not targets:
            problems.append(f"{title}: no targets")
        for target in targets:
            problems += [f"{title}: {p}" for p in target_problems(target, ds)]
            if target.get("datasource") != ds.ref:
                problems.append(f"{title}: target datasource {target.get('datasource')} is not {ds.ref}")
            if panel.get("type") == "timeseries" and target.get(ds.format_key) != ds.format_value(Format.TIME_SERIES):
                problems.append(f"{title}: a timeseries panel needs the time-series format")
    for var in dashboard.get("templating", {}).get("list", []):
        name = var.get("name")
        if var.get("type") != "query":
            continue
        if var.get("datasource") != ds.ref:
            problems.append(f"variable {name}: datasource {var.get('datasource')} is not {ds.ref}")
        if not isinstance(var.get("query"), str) or not var["query"].strip():
            problems.append(f"variable {name}: query must be the SQL text")
    return problems


def all_problems(dashboard: dict[str, Any], ds: Datasource) -> list[str]:
    nulls = [f"null at {p}" for p in null_paths(dashboard)]
    return schema_errors(dashboard) + nulls + layout_problems(dashboard) + datasource_problems(dashboard, ds)
