"""Local preview, the embedded stand-in for Grafana: each dashboard as a self-contained HTML page.

Panels are placed by their gridPos on a 24-column grid and filled with the real results of their
SQL for the default variable values (see :func:`grandprix_dashboards.query.resolve_variables`).
Charts are drawn by plotly, whose JavaScript is inlined (the page makes no network request); tables
and stats are plain HTML. When every chart has rendered the page writes a marker into the DOM
(`<div id="render-status" data-rendered="N" data-errors="0">`) and records JavaScript errors in
`#js-errors`, so a headless browser can check it; Chromium renders a PNG of it.

By job: :mod:`~grandprix_dashboards.rendered` (the data), :mod:`~grandprix_dashboards.figures` (plotly),
:mod:`~grandprix_dashboards.templates` (HTML) and :mod:`~grandprix_dashboards.chromium` (screenshots).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from plotly.offline import get_plotlyjs

from grandprix_dashboards.chromium import dump_dom, screenshot
from grandprix_dashboards.panels import DashboardSpec
from grandprix_dashboards.query import Warehouse, unknown_variables
from grandprix_dashboards.rendered import HEADER_PX, PAGE_WIDTH, ROW_PX, RenderedDashboard, render_dashboard
from grandprix_dashboards.templates import index_html, page_html

__all__ = ["HEADER_PX", "PAGE_WIDTH", "ROW_PX", "RenderedDashboard", "dump_dom", "preview", "values_summary"]


def preview(
    warehouse: Path,
    out: Path,
    specs: Sequence[DashboardSpec],
    *,
    png: bool = True,
    chosen: Mapping[str, str] | None = None,
) -> list[RenderedDashboard]:
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
