"""Local preview, the embedded stand-in for Grafana: each dashboard as a self-contained HTML page.

Panels are placed by their gridPos on a 24-column grid and filled with the real results of their
SQL for the default variable values (see :func:`grandprix_dashboards.query.resolve_variables`).
Charts are drawn by plotly, whose JavaScript is inlined (the page makes no network request); tables
and stats are plain HTML. When every chart has rendered the page writes a marker into the DOM
(`<div id="render-status" data-rendered="N" data-errors="0">`) and records JavaScript errors in
`#js-errors`, so a headless browser can check it. :func:`screenshot` renders a PNG with Chromium.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plotly.offline import get_plotlyjs

from grandprix_dashboards.grafana import panel_styles
from grandprix_dashboards.panels import LAP_TIME, DashboardSpec, Kind, PanelSpec
from grandprix_dashboards.query import Result, Warehouse, resolve_variables, run_panel, unknown_variables
from grandprix_dashboards.team_colours import style_of

PAGE_WIDTH = 1600
ROW_PX = 36  # one gridPos row (Grafana: 30 px + 6 px margin)
HEADER_PX = 92
MARGIN_PX = 8
BACKGROUND = "#111217"
PANEL_BG = "#181b1f"
TEXT = "#d8d9da"
GRID = "#2c3235"
PALETTE = ["#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2", "#b877d9", "#705da0", "#37872d",
           "#fade2a", "#ff9830", "#c4162a", "#1f60c4", "#8f3bb8", "#96d98d", "#ffb357", "#ca95e5", "#ffa6b0",
           "#c0d8ff", "#fff899"]


@dataclass
class RenderedPanel:
    spec: PanelSpec
    result: Result
    styles: dict[str, dict[str, Any]] = field(default_factory=dict)  # series → what its styles set

    @property
    def colours(self) -> dict[str, str]:
        return {name: style["colour"] for name, style in self.styles.items() if "colour" in style}


@dataclass
class RenderedDashboard:
    spec: DashboardSpec
    values: dict[str, list[str]]
    panels: list[RenderedPanel]
    html_path: Path | None = None
    png_path: Path | None = None

    @property
    def height(self) -> int:
        rows = max((p.spec.pos.y + p.spec.pos.h for p in self.panels), default=0)
        return HEADER_PX + rows * ROW_PX + MARGIN_PX

    @property
    def chart_count(self) -> int:
        return sum(1 for p in self.panels if p.spec.kind not in (Kind.TABLE, Kind.STAT))


def render_dashboard(wh: Warehouse, spec: DashboardSpec,
                     chosen: Mapping[str, str] | None = None) -> RenderedDashboard:
    """Resolves the variables (the `chosen` values, else the defaults) and runs every panel's SQL."""
    values = resolve_variables(wh, spec, {k: v for k, v in (chosen or {}).items()
                                          if k in {var.name for var in spec.variables}})
    panels = []
    for panel in spec.panels:
        result = run_panel(wh, spec, panel, values)
        panels.append(RenderedPanel(panel, result, _styles(panel, result)))
    return RenderedDashboard(spec, values, panels)


def _styles(panel: PanelSpec, result: Result) -> dict[str, dict[str, Any]]:
    """The styles Grafana's overrides give each series (or table column) of the result."""
    styles = panel_styles(panel)
    if not styles:
        return {}
    if panel.series:
        index = result.columns.index(panel.series)
        names = {str(row[index]) for row in result.rows}
    else:
        names = set(result.columns)
    return {name: found for name in names if (found := style_of(name, styles))}


# --- plotly figures -------------------------------------------------------------------------------------

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
                trace.update(type="bar", marker={"color": colour, "opacity": 0.25, "line": {"width": 0}},
                             hoverinfo="skip", width=1.0)
            elif spec.kind is Kind.BARS:
                opacity = 0 if style.get("invisible") else style.get("fill_opacity", 80) / 100
                trace.update(type="bar", marker={"color": colour, "opacity": opacity, "line": {"width": 0}})
                if spec.horizontal:
                    trace.update(x=ys, y=xs, orientation="h")
                if spec.show_values and not style.get("invisible"):
                    trace.update(text=[_bar_value(v, spec.unit) for v in ys], textposition="inside",
                                 insidetextanchor="middle", textfont={"size": 9, "color": "#111217"})
            elif spec.kind is Kind.SCATTER:
                trace.update(type="scatter", mode="markers", marker={"color": colour, "size": 6, "opacity": 0.75})
            elif style.get("draw") == "bars":
                trace.update(type="bar", marker={"color": colour, "opacity": 0.8})
            else:
                mode = "lines+markers" if style.get("draw") == "points" else "lines"
                trace.update(type="scatter", mode=mode, connectgaps=True, marker={"size": 5},
                             line={"color": colour, "width": 2, "dash": LINE_DASH.get(style.get("line_style", ""),
                                                                                       "solid")})
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
        layout["yaxis2"] = {**axis, "overlaying": "y", "side": "right", "showgrid": False,
                            "title": {"text": ", ".join(spec.right_y)}}
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
        layout[category].update(type="category", automargin=True, title={"text": spec.x_label},
                                categoryorder="array", categoryarray=order)
        layout[value]["title"] = {"text": spec.y_label or spec.y[0]}
        if spec.horizontal:  # the first category on top, as Grafana draws horizontal bars
            layout["yaxis"].update(autorange="reversed", tickfont={"size": 10})
            layout["legend"].update(orientation="h", y=-0.2, x=0)
        elif spec.series:  # long category labels (run ids): slanted, smaller
            layout["xaxis"].update(tickangle=-30, tickfont={"size": 9})
    if spec.kind is Kind.TIMESERIES:
        layout["xaxis"]["type"] = "date"
    return {"data": traces, "layout": layout}


# --- HTML -------------------------------------------------------------------------------------------------

CSS = f"""
* {{ box-sizing: border-box; }}
body {{ margin: 0; background: {BACKGROUND}; color: {TEXT}; font: 13px/1.4 Inter, Helvetica, Arial, sans-serif; }}
header {{ height: {HEADER_PX - MARGIN_PX}px; padding: 10px 16px; border-bottom: 1px solid {GRID}; }}
header h1 {{ margin: 0 0 6px; font-size: 20px; font-weight: 500; }}
.vars span {{ display: inline-block; margin-right: 8px; padding: 2px 8px; border: 1px solid {GRID}; border-radius: 3px;
  background: {PANEL_BG}; font-size: 12px; }}
.vars b {{ color: #8e8e8e; font-weight: 400; margin-right: 4px; }}
.meta {{ float: right; color: #8e8e8e; font-size: 12px; }}
.grid {{ position: relative; margin: {MARGIN_PX}px; }}
.panel {{ position: absolute; background: {PANEL_BG}; border: 1px solid {GRID}; border-radius: 3px;
  display: flex; flex-direction: column; overflow: hidden; }}
.panel h2 {{ margin: 0; padding: 6px 10px; font-size: 13px; font-weight: 500; white-space: nowrap; }}
.body {{ flex: 1; min-height: 0; overflow: auto; padding: 0 6px 6px; }}
.chart {{ width: 100%; height: 100%; }}
table {{ border-collapse: collapse; width: 100%; font-size: 12px; }}
th {{ position: sticky; top: 0; background: {PANEL_BG}; text-align: left; color: #6e9fff; font-weight: 500;
  border-bottom: 1px solid {GRID}; padding: 3px 6px; }}
td {{ padding: 2px 6px; border-bottom: 1px solid #22252b; white-space: nowrap; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.stat {{ display: flex; height: 100%; align-items: center; justify-content: center; font-size: 44px; font-weight: 500;
  color: #6e9fff; }}
.empty {{ color: #8e8e8e; padding: 12px; }}
#js-errors {{ color: #f2495c; }}
"""

SCRIPT = """
window.__errors = [];
window.onerror = function (message, source, line) { window.__errors.push(message + ' @' + line); };
window.addEventListener('unhandledrejection', function (e) { window.__errors.push('rejection: ' + e.reason); });
document.addEventListener('DOMContentLoaded', function () {
  var figures = JSON.parse(document.getElementById('figures').textContent);
  var done = Object.keys(figures).map(function (id) {
    return Plotly.newPlot(id, figures[id].data, figures[id].layout, {displayModeBar: false, responsive: true});
  });
  Promise.all(done).then(function () {
    var rendered = document.querySelectorAll('.chart .main-svg').length > 0 ?
      Array.prototype.filter.call(document.querySelectorAll('.chart'), function (c) {
        return c.querySelector('.main-svg') !== null; }).length : 0;
    var status = document.getElementById('render-status');
    status.setAttribute('data-rendered', String(rendered));
    status.setAttribute('data-errors', String(window.__errors.length));
    status.textContent = 'rendered ' + rendered + ' charts';
    document.getElementById('js-errors').textContent = window.__errors.join('\\n');
  }, function (err) {
    window.__errors.push('plotly: ' + err);
    document.getElementById('js-errors').textContent = window.__errors.join('\\n');
  });
});
"""


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


def _cell(value: Any, unit: str = "") -> str:
    if unit and isinstance(value, int | float) and not isinstance(value, bool):
        return f'<td class="num">{html.escape(format_value(value, unit))}</td>'
    if value is None:
        return '<td class="num"></td>'
    if isinstance(value, bool):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, float):
        return f'<td class="num">{value:,.3f}'.rstrip("0").rstrip(".") + "</td>"
    if isinstance(value, int):
        return f'<td class="num">{value}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def _table_html(panel: RenderedPanel) -> str:
    result = panel.result
    if not result.rows:
        return '<div class="empty">No rows</div>'
    units = [panel.styles.get(c, {}).get("unit", panel.spec.unit) for c in result.columns]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in result.columns)
    body = "".join("<tr>" + "".join(_cell(v, u) for v, u in zip(row, units, strict=True)) + "</tr>"
                   for row in result.rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _stat_html(panel: RenderedPanel) -> str:
    values = panel.result.column(panel.spec.y[0])
    value = values[-1] if values else None
    colour = "#f2495c" if isinstance(value, int | float) and value >= 1 else "#73bf69"  # Grafana thresholds: 1 → red
    return f'<div class="stat" style="color:{colour}">{html.escape("–" if value is None else str(value))}</div>'


def page_html(dash: RenderedDashboard, warehouse_name: str, plotly_js: str) -> str:
    spec = dash.spec
    unit_w = (PAGE_WIDTH - 2 * MARGIN_PX) / 24
    figures: dict[str, Any] = {}
    boxes = []
    for i, panel in enumerate(dash.panels):
        p = panel.spec.pos
        style = (f"left:{p.x * unit_w:.1f}px;top:{p.y * ROW_PX}px;width:{p.w * unit_w - MARGIN_PX:.1f}px;"
                 f"height:{p.h * ROW_PX - MARGIN_PX}px")
        if panel.spec.kind is Kind.TABLE:
            body = _table_html(panel)
        elif panel.spec.kind is Kind.STAT:
            body = _stat_html(panel)
        elif not panel.result.rows:
            body = '<div class="empty">No rows</div>'
        else:
            figures[f"chart-{i}"] = figure(panel)
            body = f'<div class="chart" id="chart-{i}"></div>'
        title = html.escape(panel.spec.title)
        tip = html.escape(panel.spec.description, quote=True)
        boxes.append(f'<section class="panel" style="{style}" title="{tip}" data-kind="{panel.spec.kind.value}">'
                     f'<h2>{title}</h2><div class="body">{body}</div></section>')
    variables = "".join(
        f"<span><b>{html.escape(v.label)}</b>{html.escape(_value_label(dash.values.get(v.name, []), v.include_all))}"
        "</span>"
        for v in spec.variables
    )
    rows_px = dash.height - HEADER_PX - MARGIN_PX
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    figures_json = json.dumps(figures, default=str).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(spec.title)} · Grand Prix Insights</title>
<style>{CSS}</style>
<script>{plotly_js}</script>
<script>{SCRIPT}</script>
</head><body>
<header><div class="meta">refresh {html.escape(spec.refresh)} · warehouse {html.escape(warehouse_name)} · {generated}
<div id="render-status" data-rendered="" data-errors="" data-charts="{dash.chart_count}"></div>
<pre id="js-errors"></pre></div>
<h1>{html.escape(spec.title)}</h1><div class="vars">{variables}</div></header>
<div class="grid" style="height:{rows_px}px">{''.join(boxes)}</div>
<script type="application/json" id="figures">{figures_json}</script>
</body></html>
"""


def _value_label(values: Sequence[str], include_all: bool) -> str:
    if include_all and len(values) > 1:
        return f"All ({len(values)})"
    return ", ".join(values)


def index_html(dashboards: Sequence[RenderedDashboard]) -> str:
    items = "".join(
        f'<li><a href="{d.html_path.name if d.html_path else ""}">{html.escape(d.spec.title)}</a>'
        f' · <a href="{d.png_path.name if d.png_path else ""}">PNG</a>'
        f"<p>{html.escape(d.spec.description)}</p></li>"
        for d in dashboards
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Grand Prix Insights dashboards</title>
<style>body {{ background: {BACKGROUND}; color: {TEXT}; font: 15px/1.5 Helvetica, Arial, sans-serif; margin: 32px; }}
a {{ color: #6e9fff; }} li {{ margin-bottom: 12px; }} p {{ margin: 2px 0; color: #8e8e8e; }}</style></head>
<body><h1>Grand Prix Insights dashboards (local preview)</h1><ul>{items}</ul></body></html>
"""


# --- Chromium ---------------------------------------------------------------------------------------------


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise FileNotFoundError("no Chromium found on PATH (Debian: apt-get install chromium)")


def chromium(args: Sequence[str], timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """Runs headless Chromium with a fresh profile and no background network activity."""
    with tempfile.TemporaryDirectory(prefix="gpi-chromium-") as profile:
        command = [chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                   "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                   "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--virtual-time-budget=20000",
                   *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def screenshot(html_path: Path, png_path: Path, width: int, height: int) -> Path:
    proc = chromium([f"--screenshot={png_path}", f"--window-size={width},{height}", html_path.resolve().as_uri()])
    if not png_path.is_file():
        raise RuntimeError(f"chromium wrote no screenshot for {html_path} (exit {proc.returncode}): "
                           f"{proc.stderr[-2000:]}")
    return png_path


def dump_dom(html_path: Path) -> str:
    proc = chromium(["--dump-dom", html_path.resolve().as_uri()])
    if proc.returncode != 0 or not proc.stdout:
        raise RuntimeError(f"chromium --dump-dom failed for {html_path} (exit {proc.returncode}): "
                           f"{proc.stderr[-2000:]}")
    return proc.stdout


# --- entry point --------------------------------------------------------------------------------------------


def preview(warehouse: Path, out: Path, specs: Sequence[DashboardSpec], *, png: bool = True,
            chosen: Mapping[str, str] | None = None) -> list[RenderedDashboard]:
    """Writes `<slug>.html` (+ `<slug>.png`) per dashboard and `index.html` into `out`.

    `chosen` picks variable values (`season`, `event`, `session`, ...) for every dashboard that has them.
    """
    unknown = unknown_variables(specs, chosen or {})
    if unknown:
        raise ValueError(f"no dashboard has the variable(s) {unknown}")
    out.mkdir(parents=True, exist_ok=True)
    plotly_js = get_plotlyjs()
    rendered = []
    with Warehouse(warehouse) as wh:
        for spec in specs:
            dash = render_dashboard(wh, spec, chosen)
            dash.html_path = out / f"{spec.slug}.html"
            dash.html_path.write_text(page_html(dash, warehouse.name, plotly_js), encoding="utf-8")
            rendered.append(dash)
    if png:
        for dash in rendered:
            assert dash.html_path is not None
            dash.png_path = screenshot(dash.html_path, out / f"{dash.spec.slug}.png", PAGE_WIDTH, dash.height)
    (out / "index.html").write_text(index_html(rendered), encoding="utf-8")
    return rendered


def values_summary(values: Mapping[str, Sequence[str]]) -> str:
    return ", ".join(f"{k}={v[0] if len(v) == 1 else f'{len(v)} values'}" for k, v in values.items())
