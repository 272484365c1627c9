"""The preview's HTML pages: one self-contained page per dashboard (plotly.js inlined) and the index."""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Sequence
from typing import Any

from grandprix_dashboards.figures import BACKGROUND, GRID, PANEL_BG, TEXT, figure, format_value
from grandprix_dashboards.panels import Kind
from grandprix_dashboards.rendered import HEADER_PX, MARGIN_PX, PAGE_WIDTH, ROW_PX, RenderedDashboard, RenderedPanel

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
    body = "".join(
        "<tr>" + "".join(_cell(v, u) for v, u in zip(row, units, strict=True)) + "</tr>" for row in result.rows
    )
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
        style = (
            f"left:{p.x * unit_w:.1f}px;top:{p.y * ROW_PX}px;width:{p.w * unit_w - MARGIN_PX:.1f}px;"
            f"height:{p.h * ROW_PX - MARGIN_PX}px"
        )
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
        boxes.append(
            f'<section class="panel" style="{style}" title="{tip}" data-kind="{panel.spec.kind.value}">'
            f'<h2>{title}</h2><div class="body">{body}</div></section>'
        )
    variables = "".join(
        f"<span><b>{html.escape(v.label)}</b>{html.escape(_value_label(dash.texts.get(v.name, []), v.include_all))}"
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
