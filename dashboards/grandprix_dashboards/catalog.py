"""Every dashboard of the project, in the order the index page lists them."""

from __future__ import annotations

from grandprix_dashboards import pipeline_health, race_progress, standings, weather
from grandprix_dashboards.panels import DashboardSpec


def dashboards() -> list[DashboardSpec]:
    return [race_progress.dashboard(), standings.dashboard(), weather.dashboard(), pipeline_health.dashboard()]
