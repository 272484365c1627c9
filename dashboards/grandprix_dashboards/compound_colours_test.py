"""Compound colours: the committed table is FastF1's, and the series patterns pick the right colour."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grandprix_dashboards import compound_colours
from grandprix_dashboards.compound_colours import USED_FILL_OPACITY, colours_from_fastf1, label_sql, styles
from grandprix_dashboards.panels import python_regex
from grandprix_dashboards.team_colours import style_of


def test_committed_colours_are_fastf1s() -> None:
    """`compound_colours.json` holds what FastF1's plotting module maps (regenerate: compound-colours)."""
    assert (
        compound_colours.compound_colours() == colours_from_fastf1()
    ), "compound_colours.json is stale: python -m grandprix_dashboards compound-colours"


def test_pirelli_colours_since_2019_and_the_2018_range() -> None:
    colours = compound_colours.compound_colours()
    assert {colours["2025"][c] for c in ("SOFT", "MEDIUM", "HARD")} == {"#DA291C", "#FFD12E", "#F0F0EC"}
    assert colours["2018"]["SOFT"] == "#FFD318" and "HYPERSOFT" in colours["2018"]
    assert colours["2025"]["INTERMEDIATE"] == "#43B02A" and colours["2025"]["WET"] == "#0067AD"


def test_series_names_get_their_compounds_colour() -> None:
    found = styles()
    latest = compound_colours.compound_colours()["2025"]
    assert style_of("S1 · SOFT", found) == {"colour": latest["SOFT"]}
    assert style_of("S3 · HARD · used", found) == {"colour": latest["HARD"], "fill_opacity": USED_FILL_OPACITY}
    assert style_of("S2 · SOFT (2018)", found)["colour"] == "#FFD318", "2018's yellow soft keeps its colour"
    assert style_of("S1 · SUPERSOFT", found)["colour"] == "#FC2B2A"
    assert style_of("VER · Red Bull Racing", found) == {}
    for style in found:
        re.compile(python_regex(style.pattern))


@pytest.mark.parametrize(
    ("season", "compound", "fresh", "label"),
    [
        (2023, "SOFT", True, "S1 · SOFT"),
        (2023, "HARD", False, "S1 · HARD · used"),
        (2018, "SOFT", True, "S1 · SOFT (2018)"),
        (2018, "ULTRASOFT", None, "S1 · ULTRASOFT"),
        (2025, None, True, "S1 · UNKNOWN"),
    ],
)
def test_labels_name_stint_compound_era_and_used_sets(
    season: int, compound: str | None, fresh: bool | None, label: str
) -> None:
    import duckdb

    sql = label_sql("stint", "compound", "season", "fresh")
    with duckdb.connect() as con:
        got = con.execute(
            f"select {sql} from (select 1 as stint, ? as compound, ? as season, ? as fresh)", [compound, season, fresh]
        ).fetchone()
    assert got == (label,)


def test_write_colours_rejects_bad_colours(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="RRGGBB"):
        compound_colours.write_colours({"2025": {"SOFT": "red"}}, tmp_path / "c.json")
    with pytest.raises(ValueError, match="no compound colours"):
        compound_colours.write_colours({}, tmp_path / "c.json")
