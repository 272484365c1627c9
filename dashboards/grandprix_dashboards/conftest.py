"""Fixtures: a warehouse built from the real shared F1 data by the local stack, and Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from f1common.settings import Settings
from f1common.testing import f1data_dir_or_skip
from grandprix_dashboards.catalog import dashboards
from grandprix_dashboards.panels import DashboardSpec
from grandprix_dashboards.preview import RenderedDashboard, preview
from grandprix_local.harness import build_warehouse


@pytest.fixture(scope="session")
def warehouse_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB warehouse (staging + dbt marts + race calendar) built from the real shared data.

    Built by `grandprix_local.harness.build_warehouse` (the local stack: scheduler replay, ingestion,
    loader, calendar export, dbt), shared between test processes through its cache.
    """
    data = f1data_dir_or_skip()
    target = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    path = build_warehouse(target, settings=Settings(f1data_dir=data))
    if not path.is_file():
        pytest.fail(f"build_warehouse wrote no warehouse at {path}")
    missing = missing_relations(path)
    if missing:
        pytest.fail(
            f"the warehouse built by grandprix_local.harness lacks {missing} (staging.race_calendar is "
            "written by f1common.warehouse.replace_race_calendar from the race calendar)"
        )
    return path


REQUIRED = (
    "analytics.mart_positions_by_lap",
    "analytics.mart_driver_standings",
    "analytics.mart_constructor_standings",
    "analytics.mart_lap_weather",
    "analytics.mart_session_pace_weather",
    "staging.load_history",
    "staging.load_quarantine",
    "staging.race_calendar",
)


def missing_relations(path: Path) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        found = {
            f"{s}.{t}".lower()
            for s, t in con.execute("select table_schema, table_name from information_schema.tables").fetchall()
        }
    return [name for name in REQUIRED if name not in found]


@pytest.fixture(scope="session")
def specs() -> list[DashboardSpec]:
    return dashboards()


@pytest.fixture(scope="session")
def chromium_available() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium)")


@pytest.fixture(scope="session")
def rendered(
    warehouse_path: Path, specs: list[DashboardSpec], chromium_available: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[RenderedDashboard]]:
    """The preview of every dashboard (HTML + PNG) rendered from the real-data warehouse."""
    out = tmp_path_factory.mktemp("preview")
    yield preview(warehouse_path, out, specs, png=True)
