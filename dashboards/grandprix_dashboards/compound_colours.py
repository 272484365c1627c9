"""The official tyre compound colours, from FastF1's plotting module, for series named after a stint's tyres.

FastF1 keeps Pirelli's colour of each compound per season (`fastf1.plotting.get_compound_mapping`). They are
committed by season in `compound_colours.json` and regenerated from the installed FastF1 with

    python -m grandprix_dashboards compound-colours

A test checks the file against the installed FastF1. Grafana cannot colour a bar from the data, so a stint's
series is named `S1 · SOFT` (`S2 · HARD · used` for a set that had run before) and one field override per
compound gives it the compound's colour. Where a compound's colour changed (SOFT was yellow in 2018 and is
red since 2019) its label in the earlier seasons carries their years, `S1 · SOFT (2018)`, with its own
override; used sets are drawn lighter.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from functools import cache
from pathlib import Path
from types import SimpleNamespace

from grandprix_dashboards.panels import SeriesStyle, js_escape
from grandprix_dashboards.team_colours import SEPARATOR

COLOURS_FILE = Path(__file__).with_name("compound_colours.json")
USED = f"{SEPARATOR}used"
USED_FILL_OPACITY = 45
_HEX = re.compile(r"^#[0-9A-F]{6}$")
_FIRST_SEASON = 2018  # FastF1's first season of timing data (and of its compound colours)


def colours_from_fastf1() -> dict[str, dict[str, str]]:
    """Season → compound → '#RRGGBB', as FastF1's plotting module maps them, for every season it knows."""
    from fastf1 import plotting

    seasons: dict[str, dict[str, str]] = {}
    for season in range(_FIRST_SEASON, dt.date.today().year + 2):
        # get_compound_mapping reads only the session's event date (the season); no session is loaded
        stand_in = SimpleNamespace(event={"EventDate": dt.datetime(season, 1, 1)})
        try:
            mapping = plotting.get_compound_mapping(stand_in)  # type: ignore[arg-type]
        except KeyError:
            continue
        seasons[str(season)] = {compound: colour.upper() for compound, colour in mapping.items()}
    return seasons


def write_colours(colours: dict[str, dict[str, str]], path: Path = COLOURS_FILE) -> Path:
    bad = {f"{season} {c}": v for season, m in colours.items() for c, v in m.items() if not _HEX.match(v)}
    if bad:
        raise ValueError(f"compound colours must be '#RRGGBB': {bad}")
    if not colours:
        raise ValueError("FastF1 maps no compound colours")
    path.write_text(json.dumps(colours, indent=2, sort_keys=True) + "\n")
    return path


@cache
def compound_colours() -> dict[str, dict[str, str]]:
    """The committed colours: season → compound → '#RRGGBB'."""
    colours: dict[str, dict[str, str]] = json.loads(COLOURS_FILE.read_text())
    return colours


def _eras() -> tuple[dict[str, str], dict[tuple[str, str], str], dict[tuple[str, str], str]]:
    """(compound → its latest colour, (compound, era) → the era's colour, (season, compound) → era label).

    An era is the seasons in which a compound had a colour other than its latest one, named by their
    years ('2018', or '2014–2018').
    """
    latest: dict[str, str] = {}
    for season in sorted(compound_colours(), key=int):
        latest.update(compound_colours()[season])
    older: dict[tuple[str, str], list[int]] = {}
    for season, mapping in compound_colours().items():
        for compound, colour in mapping.items():
            if colour != latest[compound]:
                older.setdefault((compound, colour), []).append(int(season))
    era_colours: dict[tuple[str, str], str] = {}
    era_of: dict[tuple[str, str], str] = {}
    for (compound, colour), seasons in older.items():
        era = str(min(seasons)) if len(seasons) == 1 else f"{min(seasons)}–{max(seasons)}"
        era_colours[(compound, era)] = colour
        for year in seasons:
            era_of[(str(year), compound)] = era
    return latest, era_colours, era_of


def label_sql(stint: str, compound: str, season: str, is_fresh: str) -> str:
    """SQL for a stint's series label: `S1 · SOFT`, `S2 · SOFT (2018)`, `S3 · HARD · used`."""
    _, _, era_of = _eras()
    eras = "".join(
        f" when {season} = {int(s)} and {compound} = '{c}' then ' ({era})'" for (s, c), era in sorted(era_of.items())
    )
    era_sql = f"case{eras} else '' end" if eras else "''"
    return (
        f"'S' || cast({stint} as varchar) || '{SEPARATOR}' || coalesce({compound}, 'UNKNOWN') || {era_sql}"
        f" || case when {is_fresh} then '' when not {is_fresh} then '{USED}' else '' end"
    )


def styles() -> tuple[SeriesStyle, ...]:
    """Every compound's series in its colour (each older era in its own), used sets lighter."""
    latest, era_colours, _ = _eras()
    used = f"({js_escape(USED)})?$"
    found = [
        SeriesStyle(f"/{js_escape(SEPARATOR + compound)}{used}/", colour=colour)
        for compound, colour in sorted(latest.items())
    ]
    found += [
        SeriesStyle(f"/{js_escape(f'{SEPARATOR}{compound} ({era})')}{used}/", colour=colour)
        for (compound, era), colour in sorted(era_colours.items())
    ]
    found.append(SeriesStyle(f"/{js_escape(USED)}$/", fill_opacity=USED_FILL_OPACITY))
    return tuple(found)
