"""Every dashboard of the project, in the order the index page lists them."""

from __future__ import annotations

from grandprix_dashboards import pipeline_health, pit_stops, race_pace, race_progress, standings, tyre_strategy, weather
from grandprix_dashboards.panels import DashboardSpec


def dashboards() -> list[DashboardSpec]:
    return [
        race_progress.dashboard(),
        tyre_strategy.dashboard(),
        race_pace.dashboard(),
        pit_stops.dashboard(),
        standings.dashboard(),
        weather.dashboard(),
        pipeline_health.dashboard(),
    ]
