"""What a dashboard shows: every panel's SQL run on the warehouse for the chosen variables, with Grafana's
series styles, and the page layout of Grafana's grid (the local preview's data)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grandprix_dashboards.grafana import panel_styles
from grandprix_dashboards.panels import DashboardSpec, Kind, PanelSpec
from grandprix_dashboards.query import Option, Result, Warehouse, resolve_options, run_panel
from grandprix_dashboards.team_colours import style_of

PAGE_WIDTH = 1600
ROW_PX = 36  # one gridPos row (Grafana: 30 px + 6 px margin)
HEADER_PX = 92
MARGIN_PX = 8


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
    selected: dict[str, list[Option]]  # per variable, the options selected (keys and shown names)
    panels: list[RenderedPanel]
    html_path: Path | None = None
    png_path: Path | None = None

    @property
    def values(self) -> dict[str, list[str]]:
        """Per variable, the selected keys (what the panels' SQL received)."""
        return {name: [o.value for o in opts] for name, opts in self.selected.items()}

    @property
    def texts(self) -> dict[str, list[str]]:
        """Per variable, the names shown for the selection (the event's name for its round)."""
        return {name: [o.text for o in opts] for name, opts in self.selected.items()}

    @property
    def height(self) -> int:
        rows = max((p.spec.pos.y + p.spec.pos.h for p in self.panels), default=0)
        return HEADER_PX + rows * ROW_PX + MARGIN_PX

    @property
    def chart_count(self) -> int:
        return sum(1 for p in self.panels if p.spec.kind not in (Kind.TABLE, Kind.STAT))


def render_dashboard(wh: Warehouse, spec: DashboardSpec, chosen: Mapping[str, str] | None = None) -> RenderedDashboard:
    """Resolves the variables (the `chosen` values, else the defaults) and runs every panel's SQL."""
    selected = resolve_options(
        wh, spec, {k: v for k, v in (chosen or {}).items() if k in {var.name for var in spec.variables}}
    )
    values = {name: [o.value for o in opts] for name, opts in selected.items()}
    panels = []
    for panel in spec.panels:
        result = run_panel(wh, spec, panel, values)
        panels.append(RenderedPanel(panel, result, _styles(panel, result)))
    return RenderedDashboard(spec, selected, panels)


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
