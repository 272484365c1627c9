"""Plotly figures of the preview's chart panels, in Grafana's dark theme."""

from __future__ import annotations

from typing import Any

from grandprix_dashboards.panels import LAP_TIME, Kind
from grandprix_dashboards.rendered import RenderedPanel

BACKGROUND = "#111217"
PANEL_BG = "#181b1f"
TEXT = "#d8d9da"
GRID = "#2c3235"
PALETTE = [
    "#73bf69",
    "#f2cc0c",
    "#8ab8ff",
    "#ff780a",
    "#f2495c",
    "#5794f2",
    "#b877d9",
    "#705da0",
    "#37872d",
    "#fade2a",
    "#ff9830",
    "#c4162a",
    "#1f60c4",
    "#8f3bb8",
    "#96d98d",
    "#ffb357",
    "#ca95e5",
    "#ffa6b0",
    "#c0d8ff",
    "#fff899",
]

LINE_DASH = {"dash": "dash", "dot": "dot"}
# m:ss.SSS on a plotly axis: values in ms on a date axis (UTC, as the dashboards pin Grafana's time zone)
LAP_TIME_AXIS = {"type": "date", "tickformat": "%-M:%S.%L", "hoverformat": "%-M:%S.%L"}


def _series_groups(panel: RenderedPanel) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """Rows split by the series column (first-appearance order), or one group for wide results."""
    spec, result = panel.spec, panel.result
    if not spec.series:
        return [("", result.rows)]
    index = result.columns.index(spec.series)
    groups: dict[str, list[tuple[Any, ...]]] = {}
    for row in result.rows:
        groups.setdefault(str(row[index]), []).append(row)
    return list(groups.items())


def figure(panel: RenderedPanel) -> dict[str, Any]:
    """A plotly figure (as JSON-able dict) for a chart panel."""
    spec, result = panel.spec, panel.result
    assert spec.x is not None
    xi = result.columns.index(spec.x)
    traces: list[dict[str, Any]] = []
    for g, (name, rows) in enumerate(_series_groups(panel)):
        for yn, y in enumerate(spec.y):
            yi = result.columns.index(y)
            label = name if spec.series else y
            band = dict(spec.bands).get(name)
            style = panel.styles.get(label, {})
            colour = band or style.get("colour") or PALETTE[(g * len(spec.y) + yn) % len(PALETTE)]
            xs, ys = [r[xi] for r in rows], [r[yi] for r in rows]
            trace: dict[str, Any] = {"x": xs, "y": ys, "name": label}
            if y in spec.right_y:
                trace["yaxis"] = "y2"
            if band:  # a translucent column over each flagged x, behind the lines
                trace.update(
                    type="bar",
                    marker={"color": colour, "opacity": 0.25, "line": {"width": 0}},
                    hoverinfo="skip",
                    width=1.0,
                )
            elif spec.kind is Kind.BARS:
                opacity = 0 if style.get("invisible") else style.get("fill_opacity", 80) / 100
                trace.update(type="bar", marker={"color": colour, "opacity": opacity, "line": {"width": 0}})
                if spec.horizontal:
                    trace.update(x=ys, y=xs, orientation="h")
                if spec.show_values and not style.get("invisible"):
                    trace.update(
                        text=[_bar_value(v, spec.unit) for v in ys],
                        textposition="inside",
                        insidetextanchor="middle",
                        textfont={"size": 9, "color": "#111217"},
                    )
            elif spec.kind is Kind.SCATTER:
                trace.update(type="scatter", mode="markers", marker={"color": colour, "size": 6, "opacity": 0.75})
            elif style.get("draw") == "bars":
                trace.update(type="bar", marker={"color": colour, "opacity": 0.8})
            else:
                mode = "markers" if style.get("draw") == "points" else "lines"  # Grafana's points: no line
                trace.update(
                    type="scatter",
                    mode=mode,
                    connectgaps=True,
                    marker={"size": style.get("point_size", 5), "color": colour},
                    line={"color": colour, "width": 2, "dash": LINE_DASH.get(style.get("line_style", ""), "solid")},
                )
            if style.get("hidden") or style.get("invisible"):
                trace.update(showlegend=False, hoverinfo="skip")
            traces.append(trace)
    axis = {"gridcolor": GRID, "zerolinecolor": GRID, "color": TEXT}
    layout: dict[str, Any] = {
        "paper_bgcolor": PANEL_BG,
        "plot_bgcolor": PANEL_BG,
        "font": {"color": TEXT, "size": 11},
        "margin": {"l": 56, "r": 8, "t": 8, "b": 40},
        "xaxis": {**axis, "title": {"text": spec.x_label or spec.x}},
        "yaxis": {**axis, "title": {"text": spec.y_label or ", ".join(y for y in spec.y if y not in spec.right_y)}},
        "legend": {"font": {"size": 10}},
        "showlegend": len(traces) > 1 and spec.legend,
        "hovermode": "closest",
    }
    if spec.kind is Kind.LINES and any(t.get("type") == "bar" for t in traces):
        layout["barmode"] = "overlay"  # flag bands and bar-drawn series share each x, as in Grafana
    if spec.unit == LAP_TIME:
        layout["xaxis" if spec.horizontal else "yaxis"].update(LAP_TIME_AXIS)
    if spec.right_y:
        layout["yaxis2"] = {
            **axis,
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "title": {"text": ", ".join(spec.right_y)},
        }
        if spec.right_unit == "percent":
            layout["yaxis2"].update(range=[0, 105], tickmode="linear", tick0=0, dtick=25)
        layout["margin"]["r"] = 56
        layout["legend"].update(orientation="h", y=1.08, x=0)
    if spec.invert_y:
        values = [v for t in traces for v in t["y"] if isinstance(v, int | float)]
        layout["yaxis"]["range"] = [max(values, default=20) + 0.5, 0.5]
        top = int(max(values, default=20))
        layout["yaxis"]["tickvals"] = list(range(1, top + 1)) if top <= 10 else [1, *range(5, top + 1, 5)]
    if spec.kind is Kind.BARS:
        layout["barmode"] = "stack" if spec.stack else "group"
        category, value = ("yaxis", "xaxis") if spec.horizontal else ("xaxis", "yaxis")
        # categories in the order of the result's rows, as groupingToMatrix keeps them in Grafana
        order = list(dict.fromkeys(row[xi] for row in result.rows))
        layout[category].update(
            type="category", automargin=True, title={"text": spec.x_label}, categoryorder="array", categoryarray=order
        )
        layout[value]["title"] = {"text": spec.y_label or spec.y[0]}
        if spec.horizontal:  # the first category on top, as Grafana draws horizontal bars
            layout["yaxis"].update(autorange="reversed", tickfont={"size": 10})
            layout["legend"].update(orientation="h", y=-0.2, x=0)
        elif spec.series:  # long category labels (run ids): slanted, smaller
            layout["xaxis"].update(tickangle=-30, tickfont={"size": 9})
    return {"data": traces, "layout": layout}


def _bar_value(value: Any, unit: str) -> str:
    if not isinstance(value, int | float) or not value:
        return ""
    return format_value(value, unit)


def format_value(value: Any, unit: str) -> str:
    """A number as Grafana shows it in `unit` (the units the dashboards use)."""
    if unit == LAP_TIME and isinstance(value, int | float):
        minutes, ms = divmod(round(value), 60_000)
        return f"{minutes}:{ms // 1000:02d}.{ms % 1000:03d}"
    if unit == "s" and isinstance(value, int | float):
        return f"{value:.3f} s".replace(".000 s", " s")
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    return str(value)
