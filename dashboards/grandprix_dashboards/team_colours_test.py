"""Team colours: the committed table matches the real data, and the patterns match like Grafana's."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from grandprix_dashboards import team_colours
from grandprix_dashboards.team_colours import colour_of, colours_from_warehouse, pattern, write_colours


def test_committed_colours_are_the_warehouse_colours(warehouse_path: Path) -> None:
    """`team_colours.json` holds what `team-colours` derives from the warehouse built from the shared data.

    It is generated from the demo's warehouse (every shared session); the test warehouse has a subset of
    the sessions, so each colour it derives must be in the file, unchanged.
    """
    derived = colours_from_warehouse(warehouse_path)
    committed = team_colours.team_colours()
    assert len(derived) >= 15
    assert {
        name: committed.get(name) for name in derived
    } == derived, (
        "team_colours.json is stale: python -m grandprix_dashboards team-colours --warehouse .local/warehouse.duckdb"
    )


def test_every_team_in_the_dashboards_marts_has_a_colour(warehouse_path: Path) -> None:
    with duckdb.connect(str(warehouse_path), read_only=True) as con:
        teams = {
            row[0]
            for row in con.execute(
                """select team_name from analytics.mart_positions_by_lap where team_name is not null
               union select team_name from analytics.mart_driver_standings
               where season >= 2018 and team_name is not null
               union select team_name from analytics.mart_constructor_standings where season >= 2018"""
            ).fetchall()
        }
    assert teams and not {t for t in teams if colour_of(t) is None}


def test_colour_of_matches_team_and_driver_series_only() -> None:
    assert (
        colour_of("VER · Red Bull Racing")
        == colour_of("Red Bull Racing")
        == team_colours.team_colours()["Red Bull Racing"]
    )
    assert colour_of("TSU · RB") == team_colours.team_colours()["RB"]
    assert colour_of("XRB") is None and colour_of("RB Racing") is None and colour_of("VER") is None


def test_pattern_escapes_javascript_regex_syntax() -> None:
    assert pattern("Haas F1 Team") == "/(^| · )Haas F1 Team$/"
    assert pattern("A.B (C)/D") == "/(^| · )A\\.B \\(C\\)\\/D$/"


def test_write_colours_rejects_bad_colours(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="RRGGBB"):
        write_colours({"McLaren": "orange"}, tmp_path / "c.json")
    with pytest.raises(ValueError, match="no team colours"):
        write_colours({}, tmp_path / "c.json")
