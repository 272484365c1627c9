"""The standings dashboard on the warehouse built from the real data: counted and scored points where
they differ, unranked entries marked, the countback named, and lines for seasons without driver codes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grandprix_dashboards import standings
from grandprix_dashboards.panels import DashboardSpec, PanelSpec
from grandprix_dashboards.query import Warehouse, run_panel, variable_choices, variable_options


@pytest.fixture(scope="module")
def wh(warehouse_path: Path) -> Iterator[Warehouse]:
    with Warehouse(warehouse_path) as warehouse:
        yield warehouse


@pytest.fixture(scope="module")
def spec() -> DashboardSpec:
    return standings.dashboard()


def _panel(spec: DashboardSpec, title: str) -> PanelSpec:
    return next(p for p in spec.panels if p.title == title)


def _values(wh: Warehouse, spec: DashboardSpec, season: int) -> dict[str, list[str]]:
    values = {"season": [str(season)]}
    values["driver"] = variable_options(wh, spec, spec.variables[1], values)  # All
    return values


def _table(wh: Warehouse, spec: DashboardSpec, title: str, season: int) -> dict[str, dict[str, Any]]:
    result = run_panel(wh, spec, _panel(spec, title), _values(wh, spec, season))
    key = "Driver" if "Driver" in result.columns else "Team"
    return {row[result.columns.index(key)]: dict(zip(result.columns, row)) for row in result.rows}


def test_the_drivers_table_shows_scored_points_where_results_were_dropped(wh: Warehouse, spec: DashboardSpec) -> None:
    table = _table(wh, spec, "Drivers' standings", 1988)

    def row(driver: str) -> tuple[Any, ...]:
        return table[driver]["Pos"], table[driver]["Points"], table[driver]["Scored"]

    assert row("Ayrton Senna") == (1, 90, 94)
    assert row("Alain Prost") == (2, 87, 105)
    assert table["Gerhard Berger"]["Scored"] is None, "scored points only where they differ from the counted ones"
    assert table["Ivan Capelli"]["Note"] == "tie: 2nd places"  # level with Warwick on 17 points


def test_unranked_entries_keep_a_row_without_a_position_and_say_why(wh: Warehouse, spec: DashboardSpec) -> None:
    drivers = _table(wh, spec, "Drivers' standings", 1997)
    schumacher = drivers["Michael Schumacher"]
    assert (schumacher["Pos"], schumacher["Points"]) == (None, 78)
    assert schumacher["Note"].startswith("unranked: excluded: disqualified from the 1997 drivers' championship")
    teams = _table(wh, spec, "Constructors' standings", 2007)
    mclaren = teams["McLaren"]
    assert (mclaren["Pos"], mclaren["Points"], mclaren["Scored"]) == (None, 0, 218)
    assert mclaren["Note"].startswith("unranked: excluded:")
    rows = list(teams.values())
    assert [r["Pos"] for r in rows if r["Pos"] is not None] == list(range(1, len(rows))), "ranked first, in order"
    assert rows[-1]["Team"] == "McLaren"


def test_the_constructors_table_shows_the_best_placed_car_counting_before_1979(
    wh: Warehouse,
    spec: DashboardSpec,
) -> None:
    teams = _table(wh, spec, "Constructors' standings", 1958)
    assert (teams["Vanwall"]["Pos"], teams["Vanwall"]["Points"], teams["Vanwall"]["Scored"]) == (1, 48, 57)


def test_lines_are_drawn_for_seasons_before_driver_codes(wh: Warehouse, spec: DashboardSpec) -> None:
    values = _values(wh, spec, 1964)
    scorers = variable_choices(wh, spec, spec.variables[1], values)
    assert [(o.value, o.text) for o in scorers[:3]] == [
        ("surtees", "John Surtees"),
        ("hill", "Graham Hill"),
        ("clark", "Jim Clark"),
    ], "scorers, best position first"
    assert values["driver"] == [o.value for o in scorers], "keyed by the Ergast reference, shown by name"
    points = run_panel(wh, spec, _panel(spec, "Drivers' championship: cumulative points"), values)
    final = {d: p for r, d, p in points.rows if r == 10}
    assert final["John Surtees · Ferrari"] == 40 and final["Graham Hill · BRM"] == 39
