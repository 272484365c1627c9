"""DashboardSpec + Datasource → Grafana dashboard JSON, through grafanalib.

grafanalib 0.7.1 writes `null` for every unset attribute and a few keys from old schema versions;
:func:`clean` removes them (keeping the `value: null` of a base threshold step, which Grafana needs).
"""

from __future__ import annotations

import json
from typing import Any

import attr
from grafanalib import core as g
from grafanalib._gen import DashboardEncoder

from grandprix_dashboards import team_colours
from grandprix_dashboards.datasources import Datasource, Format
from grandprix_dashboards.panels import DashboardSpec, Kind, PanelSpec, SeriesStyle, Variable
from grandprix_dashboards.sql import render

SCHEMA_VERSION = 39
# Keys grafanalib emits that current dashboards no longer have (or that only old panel types read).
OBSOLETE_KEYS = frozenset(
    {
        "rows",
        "style",
        "sharedCrosshair",
        "hideControls",
        "span",
        "minSpan",
        "height",
        "error",
        "repeatDirection",
        "maxPerRow",
        "useTags",
        "tagsQuery",
        "tagValuesQuery",
        "auto",
        "auto_min",
        "auto_count",
        "intervalFactor",
        "step",
        "expr",
        "query_target",
        "metric",
        "target",
        "legendFormat",
        "instant",
        "rawQuery",
    }
)
EMPTY_DROPPABLE = frozenset({"__inputs", "links", "thresholds", "columns", "mappings"})


@attr.s
class GenericPanel(g.Panel):
    """A panel type grafanalib has no class for (trend, xychart): type, options and fieldConfig given as JSON."""

    type: str = attr.ib(default="")
    options: dict[str, Any] = attr.ib(factory=dict)
    fieldConfig: dict[str, Any] = attr.ib(factory=dict)

    def to_json_data(self) -> dict[str, Any]:
        return self.panel_json({"type": self.type, "options": self.options, "fieldConfig": self.fieldConfig})


def _generic(**fields: Any) -> g.Panel:
    """A GenericPanel; its base-class fields (targets, gridPos, ...) are passed by keyword."""
    return GenericPanel(**fields)


def _fmt(spec: PanelSpec) -> Format:
    return Format.TABLE  # every panel's SQL returns rows; no time-series frames


def _matrix(spec: PanelSpec) -> list[dict[str, Any]]:
    """Long (x, series, y) rows → one column per series value, rows keyed by x (see :func:`_matrix_x`)."""
    if not spec.series:
        return []
    if len(spec.y) != 1:
        raise ValueError(f"panel {spec.title!r}: a series split needs exactly one value column, not {spec.y}")
    return [
        {
            "id": "groupingToMatrix",
            "options": {"rowField": spec.x, "columnField": spec.series, "valueField": spec.y[0], "emptyValue": "null"},
        }
    ]


def _matrix_x(spec: PanelSpec) -> str:
    """The x column after :func:`_matrix`: Grafana names it `<x>\\<series>`."""
    assert spec.x is not None
    return f"{spec.x}\\{spec.series}" if spec.series else spec.x


def _series_transformations(spec: PanelSpec) -> list[dict[str, Any]]:
    if not spec.series:
        return []
    return [
        {
            "id": "partitionByValues",
            "options": {"fields": [spec.series], "keepFields": False, "naming": {"asLabels": True}},
        }
    ]


def _series_names(spec: PanelSpec) -> list[dict[str, Any]]:
    """Names each partitioned series by its value (legend `VER` instead of `position driver=VER`)."""
    if not spec.series:
        return []
    return [
        {
            "matcher": {"id": "byName", "options": y},
            "properties": [{"id": "displayName", "value": f"${{__field.labels.{spec.series}}}"}],
        }
        for y in spec.y
    ]


def _bands(spec: PanelSpec) -> list[dict[str, Any]]:
    """Band series (their value is the top of the y range) drawn as translucent bars, out of the tooltip."""
    return [
        {
            "matcher": {"id": "byName", "options": name},
            "properties": [
                {"id": "color", "value": {"mode": "fixed", "fixedColor": colour}},
                {"id": "custom.drawStyle", "value": "bars"},
                {"id": "custom.fillOpacity", "value": 25},
                {"id": "custom.lineWidth", "value": 0},
                {"id": "custom.barAlignment", "value": 0},
                {"id": "custom.hideFrom", "value": {"legend": False, "tooltip": True, "viz": False}},
            ],
        }
        for name, colour in spec.bands
    ]


LINE_STYLES = {"dash": {"fill": "dash", "dash": [10, 6]}, "dot": {"fill": "dot", "dash": [0, 8]}}


def _style_overrides(styles: tuple[SeriesStyle, ...]) -> list[dict[str, Any]]:
    """Field overrides from series styles (`byRegexp` on the field's name)."""
    overrides = []
    for style in styles:
        props: list[dict[str, Any]] = []
        if style.colour:
            props.append({"id": "color", "value": {"mode": "fixed", "fixedColor": style.colour}})
        if style.line_style:
            props.append({"id": "custom.lineStyle", "value": LINE_STYLES[style.line_style]})
        if style.fill_opacity is not None:
            props.append({"id": "custom.fillOpacity", "value": style.fill_opacity})
        if style.unit:
            props.append({"id": "unit", "value": style.unit})
        if style.draw:
            props.append({"id": "custom.drawStyle", "value": style.draw})
            if style.draw == "points":
                props.append({"id": "custom.showPoints", "value": "always"})
        if style.hidden or style.invisible:
            props.append({"id": "custom.hideFrom", "value": {"legend": True, "tooltip": True, "viz": False}})
        if style.invisible:
            props.append({"id": "custom.fillOpacity", "value": 0})
            props.append({"id": "custom.lineWidth", "value": 0})
        overrides.append({"matcher": {"id": "byRegexp", "options": style.pattern}, "properties": props})
    return overrides


def panel_styles(spec: PanelSpec) -> tuple[SeriesStyle, ...]:
    """Every style a panel's series get: the team colours (and team-mate marks), then the panel's own."""
    team = team_colours.styles(bars=spec.kind is Kind.BARS) if spec.team_colours else ()
    return (*team, *spec.styles)


def _right_axis(spec: PanelSpec) -> list[dict[str, Any]]:
    """Moves the `right_y` fields to a right-hand axis with their own unit."""
    props: list[dict[str, Any]] = [{"id": "custom.axisPlacement", "value": "right"}]
    if spec.right_unit:
        props.append({"id": "unit", "value": spec.right_unit})
    return [{"matcher": {"id": "byName", "options": y}, "properties": props} for y in spec.right_y]


def _custom(spec: PanelSpec, draw: str) -> dict[str, Any]:
    custom: dict[str, Any] = {
        "drawStyle": draw,
        "lineWidth": 2,
        "pointSize": 5,
        "showPoints": "never" if draw == "line" else "always",
        "spanNulls": True,
    }
    if spec.y_label:
        custom["axisLabel"] = spec.y_label
    if spec.invert_y:
        custom["transform"] = "negative-Y"
    return custom


def _legend(spec: PanelSpec) -> dict[str, Any]:
    return {"displayMode": "list", "placement": "right", "showLegend": spec.legend, "calcs": []}


def panel(spec: PanelSpec, ds: Datasource) -> g.Panel:
    sql = render(spec.sql, ds.sql_dialect)
    common: dict[str, Any] = {
        "title": spec.title,
        "description": spec.description,
        "dataSource": ds.ref,
        "targets": [ds.target("A", sql, _fmt(spec), time_column=spec.x)],
        "gridPos": g.GridPos(h=spec.pos.h, w=spec.pos.w, x=spec.pos.x, y=spec.pos.y),
        "thresholds": [{"value": None, "color": "green"}],
    }
    defaults: dict[str, Any] = {"unit": spec.unit} if spec.unit else {}
    if spec.kind is Kind.LINES:
        return _generic(
            type="trend",
            **common,
            transformations=_matrix(spec),
            options={"xField": _matrix_x(spec), "legend": _legend(spec), "tooltip": {"mode": "multi", "sort": "none"}},
            fieldConfig={
                "defaults": {**defaults, "custom": _custom(spec, "line"), "color": {"mode": "palette-classic"}},
                "overrides": [*_right_axis(spec), *_style_overrides(panel_styles(spec)), *_bands(spec)],
            },
        )
    if spec.kind is Kind.SCATTER:
        return _generic(
            type="xychart",
            **common,
            transformations=_series_transformations(spec),
            options={
                "mapping": "auto",
                "seriesMapping": "auto",
                "dims": {"x": spec.x},
                "series": [
                    {
                        "x": {"matcher": {"id": "byName", "options": spec.x}},
                        "y": {"matcher": {"id": "byName", "options": spec.y[0]}},
                    }
                ],
                "legend": _legend(spec),
                "tooltip": {"mode": "single", "sort": "none"},
            },
            fieldConfig={
                "defaults": {
                    **defaults,
                    "custom": {"show": "points", "pointSize": {"fixed": 6}},
                    "color": {"mode": "palette-classic"},
                },
                "overrides": _series_names(spec),
            },
        )
    if spec.kind is Kind.BARS:
        assert spec.x is not None
        # long (x, series, value) → one column per series; a missing bar is a zero
        transformations = [{**t, "options": {**t["options"], "emptyValue": "zero"}} for t in _matrix(spec)]
        x_field = _matrix_x(spec)
        extra: dict[str, Any] = {"options": {"xField": x_field}}
        if spec.unit:
            extra["fieldConfig"] = {"defaults": {"unit": spec.unit}}
        return g.BarChart(
            **common,
            transformations=transformations,
            stacking="normal" if spec.stack else "none",
            orientation="horizontal" if spec.horizontal else "auto",
            showValue="always" if spec.show_values else "auto",
            xTickLabelRotation=-45 if spec.series and not spec.horizontal else 0,
            legendPlacement="bottom" if spec.horizontal else "right",
            showLegend=bool(spec.series) and spec.legend,
            thresholdSteps=[{"value": None, "color": "green"}],
            overrides=_style_overrides(panel_styles(spec)),
            extraJson=extra,
        )
    if spec.kind is Kind.TABLE:
        return g.Table(**common, unit=spec.unit, overrides=_style_overrides(spec.styles))
    if spec.kind is Kind.STAT:
        common["thresholds"] = [{"value": None, "color": "green"}, {"value": 1, "color": "red"}]
        return g.Stat(
            **common,
            format=spec.unit or "none",
            reduceCalc="lastNotNull",
            colorMode="value",
            graphMode="none",
            noValue="0",
        )
    raise ValueError(f"panel {spec.title!r}: unknown kind {spec.kind}")


def template(var: Variable, ds: Datasource) -> g.Template:
    return g.Template(
        name=var.name,
        label=var.label,
        query=render(var.query, ds.sql_dialect),
        dataSource=ds.ref,
        default=var.default,
        multi=var.multi,
        includeAll=var.include_all,
        sort=0,
        refresh=1,
    )


def dashboard_uid(spec: DashboardSpec, ds: Datasource) -> str:
    return f"{spec.uid}-{ds.key}"


def dashboard(spec: DashboardSpec, ds: Datasource) -> dict[str, Any]:
    """The Grafana dashboard JSON (a dict) of a spec for one datasource."""
    dash = g.Dashboard(
        title=spec.title,
        uid=dashboard_uid(spec, ds),
        description=spec.description,
        tags=[*spec.tags, ds.key],
        panels=[panel(p, ds) for p in spec.panels],
        templating=g.Templating(list=[template(v, ds) for v in spec.variables]),
        refresh=spec.refresh,
        time=g.Time(spec.time_from, "now"),
        timezone="utc",
        schemaVersion=SCHEMA_VERSION,
        graphTooltip=1,
    ).auto_panel_ids()
    data = json.loads(json.dumps(dash.to_json_data(), cls=DashboardEncoder))
    data["templating"]["list"] = [_current(t, v) for t, v in zip(data["templating"]["list"], spec.variables)]
    return clean(data)


def _current(data: dict[str, Any], var: Variable) -> dict[str, Any]:
    """The variable's initial selection: its default, All, or nothing (Grafana then takes the first value)."""
    if var.default is not None:
        data["current"] = {"selected": True, "text": var.default, "value": var.default}
    elif var.include_all:
        data["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]}
    else:
        data.pop("current", None)
    data["options"] = []
    return data


def clean(value: Any) -> Any:
    """Drops nulls, obsolete keys and empty leftovers; keeps `value: null` of threshold steps."""
    if isinstance(value, dict):
        is_step = "color" in value and "value" in value
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in OBSOLETE_KEYS:
                continue
            if item is None and not (is_step and key == "value"):
                continue
            cleaned = clean(item)
            if key in EMPTY_DROPPABLE and cleaned in ([], {}):
                continue
            out[key] = cleaned
        return out
    if isinstance(value, list):
        return [clean(item) for item in value]
    return value
