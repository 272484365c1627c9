"""Every panel's real query result through Grafana's own transformations and field overrides (@grafana/data).

The generated dashboard JSON (not the Python spec) supplies the transformations and field config, the
warehouse built from the shared real data supplies the rows, and `grafana_js/apply_panels.cjs` runs
Grafana's frontend data layer on them. What a Grafana server would draw is then checked: the x field of
every trend and bar chart, ascending x for trends, one series per driver, and team colours.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grandprix_dashboards.compound_colours import USED, USED_FILL_OPACITY, compound_colours
from grandprix_dashboards.datasources import DUCKDB, SNOWFLAKE
from grandprix_dashboards.grafana import dashboard
from grandprix_dashboards.grafana_js import apply_panels, frame
from grandprix_dashboards.panels import LAP_TIME, DashboardSpec, Kind, PanelSpec
from grandprix_dashboards.query import Warehouse, resolve_variables, run_panel
from grandprix_dashboards.race_progress import PACE_DROP, PACE_MARKERS
from grandprix_dashboards.team_colours import SEPARATOR, colour_of
from grandprix_dashboards.tyre_strategy import FLAG_COLOURS, TRACK_ROW

# Grafana implements partitionByValues in its app, not in @grafana/data: the scatter panels (xychart)
# that split points into series by a column cannot be run here.
NOT_IN_GRAFANA_DATA = "partitionByValues"
# Besides each dashboard on load: the race progress of 2023 Australia (safety cars and three red flags).
AUSTRALIA_2023 = ("gpi-race-progress@2023-03-R", {"season": "2023", "event": "Australian Grand Prix", "session": "R"})
# ... and the strategy dashboards on 2023 Bahrain (a VSC; Red Bull soft-soft-hard, Ferrari soft-hard-hard).
BAHRAIN_2023 = {"season": "2023", "event": "Bahrain Grand Prix", "session": "R"}
STRATEGY = ("gpi-tyre-strategy", "gpi-race-pace", "gpi-pit-stops")


Applied = dict[tuple[str, str], tuple[PanelSpec, dict[str, Any], dict[str, Any]]]


@pytest.fixture(scope="module")
def applied(warehouse_path: Path, specs: list[DashboardSpec]) -> Iterator[Applied]:
    """(dashboard uid, panel title) → (spec, Grafana panel JSON, @grafana/data output) for every panel."""
    requests, index = [], {}
    race = next(spec for spec in specs if spec.uid == "gpi-race-progress")
    views: list[tuple[str, DashboardSpec, dict[str, str]]] = [(spec.uid, spec, {}) for spec in specs]
    views.append((AUSTRALIA_2023[0], race, AUSTRALIA_2023[1]))
    views += [(f"{spec.uid}@2023-01-R", spec, BAHRAIN_2023) for spec in specs if spec.uid in STRATEGY]
    timezone = {uid: dashboard(spec, DUCKDB)["timezone"] for uid, spec, _ in views}
    with Warehouse(warehouse_path) as wh:
        for uid, spec, chosen in views:
            values = resolve_variables(wh, spec, chosen)
            panels = {p["title"]: p for p in dashboard(spec, DUCKDB)["panels"]}
            for panel in spec.panels:
                grafana = panels[panel.title]
                key = f"{uid}/{panel.title}"
                requests.append(
                    {
                        "key": key,
                        "transformations": grafana.get("transformations", []),
                        "fieldConfig": grafana.get("fieldConfig"),
                        "timeZone": timezone[uid],
                        "frames": [frame(run_panel(wh, spec, panel, values))],
                    }
                )
                index[key] = (uid, panel, grafana)
    results = {r["key"]: r for r in apply_panels(requests)}
    yield {(uid, panel.title): (panel, grafana, results[key]) for key, (uid, panel, grafana) in index.items()}


def _fields(output: dict[str, Any]) -> list[dict[str, Any]]:
    assert len(output["frames"]) == 1, f"one frame expected, got {len(output['frames'])}"
    fields: list[dict[str, Any]] = output["frames"][0]["fields"]
    return fields


def test_every_panel_runs_through_grafanas_data_layer(applied: Applied) -> None:
    failed = {key: out["error"] for key, (_, _, out) in applied.items() if out["error"]}
    partitioned = {
        key
        for key, (_, grafana, _) in applied.items()
        if any(t["id"] == NOT_IN_GRAFANA_DATA for t in grafana.get("transformations", []))
    }
    assert set(failed) == partitioned, f"panels Grafana's data layer rejected: {failed}"
    assert all(NOT_IN_GRAFANA_DATA in error for error in failed.values())
    assert {applied[k][0].kind for k in partitioned} <= {Kind.SCATTER}
    assert len(applied) - len(partitioned) >= 25


def test_trend_panels_get_their_x_field_in_ascending_order(applied: Applied) -> None:
    trends = [(key, grafana, out) for key, (_, grafana, out) in applied.items() if grafana["type"] == "trend"]
    assert len(trends) >= 6
    for key, grafana, out in trends:
        fields = {f["name"]: f for f in _fields(out)}
        x = fields.get(grafana["options"]["xField"])
        assert x is not None, f"{key}: no field {grafana['options']['xField']!r} in {list(fields)}"
        assert x["type"] == "number" and x["values"] == sorted(x["values"]), f"{key}: x must ascend (trend panel)"
        assert len(set(x["values"])) == len(x["values"]), f"{key}: one row per x"
        assert any(f["type"] == "number" for name, f in fields.items() if name != x["name"]), f"{key}: no values"


def _drawn(field: dict[str, Any]) -> bool:
    """Not an invisible stacking base (a box plot's offset, a strategy chart's green laps)."""
    return field["custom"].get("fillOpacity") != 0


def test_driver_lines_are_one_series_per_driver_in_team_colours(applied: Applied) -> None:
    panel, _, out = applied[("gpi-race-progress", "Positions by lap")]
    bands = dict(panel.bands)
    markers = [f for f in _fields(out) if f["name"].startswith(PACE_DROP)]
    series = [f for f in _fields(out) if f["name"] != "lap\\driver" and f["name"] not in bands and f not in markers]
    # the pace-change alert's laps (2025 China: Norris, lap 56) drawn by Grafana as red points
    assert [(f["displayName"], f["color"].upper()) for f in markers] == [(f"{PACE_DROP} NOR", PACE_MARKERS[0].colour)]
    drivers = [f["displayName"].split(SEPARATOR)[0] for f in series]
    assert len(drivers) == len(set(drivers)) >= 18
    coloured = [(key, panel) for key, (panel, _, _) in applied.items() if panel.team_colours]
    assert len(coloured) == 17  # 10 panels; the two race-progress ones also for 2023 Australia, the five
    # of the strategy dashboards also for 2023 Bahrain
    for key, panel in coloured:
        for field in filter(_drawn, _fields(applied[key][2])[1:]):
            marker = PACE_MARKERS[0].colour if field["name"].startswith(PACE_DROP) else None
            expected = dict(panel.bands).get(field["name"]) or marker or colour_of(field["displayName"])
            assert expected is not None, f"{key}: no team colour for {field['displayName']!r}"
            assert field["color"].lower() == expected.lower(), f"{key}: {field['displayName']} drawn {field['color']}"
    # team-mates share their team's colour; Red Bull's two cars are the same blue
    by_team: dict[str, set[str]] = {}
    for field in series:
        by_team.setdefault(field["displayName"].split(SEPARATOR)[1], set()).add(field["color"])
    assert all(len(colours) == 1 for colours in by_team.values())
    assert len({next(iter(c)) for c in by_team.values()}) >= 8, "teams are told apart by colour"


def test_team_mates_are_told_apart_on_every_per_driver_chart(applied: Applied) -> None:
    """Two drivers of one team share its colour, so Grafana must draw them differently: the second dashed
    (lines) or lighter (bars)."""
    checked = 0
    for key, (panel, _, out) in applied.items():
        if not panel.team_colours:
            continue
        looks: dict[tuple[str, str], set[tuple[Any, ...]]] = {}
        for field in filter(_drawn, _fields(out)[1:]):
            parts = field["displayName"].split(SEPARATOR)
            if field["name"] in dict(panel.bands) or len(parts) < 2:
                continue  # flag bands; constructors' lines (one per team)
            driver, team = parts[-2].split(" (")[0], parts[-1]
            segment = SEPARATOR.join(parts[:-2])  # a box plot's segment, else ''
            look = (field["color"], json.dumps(field["custom"].get("lineStyle")), field["custom"].get("fillOpacity"))
            looks.setdefault((team, segment), set()).add((driver, *look))
        for (team, _), drivers in looks.items():
            if len({d[0] for d in drivers}) > 1:
                assert len({d[1:] for d in drivers}) == len(
                    {d[0] for d in drivers}
                ), f"{key}: {team}'s drivers are drawn alike: {drivers}"
                checked += 1
    assert checked >= 50


@pytest.mark.parametrize("view", ["gpi-race-progress", AUSTRALIA_2023[0]])
def test_flag_bands_shade_the_laps_of_the_flag_periods_table(applied: Applied, view: str) -> None:
    """The shaded laps of both charts are the laps the flag-periods table lists (SC, VSC, red flag)."""
    _, _, table = applied[(view, "Flag and safety-car periods")]
    columns = {f["name"]: f["values"] for f in _fields(table)} if table["frames"][0]["fields"] else {}
    periods = list(zip(columns.get("Period", []), columns.get("From lap", []), columns.get("To lap", []), strict=True))
    for title in ("Positions by lap", "Gap to leader"):
        panel, grafana, out = applied[(view, title)]
        fields = _fields(out)
        laps = fields[0]["values"]
        assert {name for name, _ in panel.bands} == {"Safety car", "Virtual safety car", "Red flag"}
        for name, colour in panel.bands:
            expected = {lap for period, first, last in periods if period == name for lap in range(first, last + 1)}
            band = next((f for f in fields if f["name"] == name), None)
            if not expected:
                assert band is None, f"{title}: {name} shaded but the table lists no such period"
                continue
            assert band is not None and band["color"].lower() == colour.lower()
            shaded = {lap for lap, v in zip(laps, band["values"], strict=True) if v is not None}
            assert shaded == expected, f"{title}: {name} shades {sorted(shaded)}, the table says {sorted(expected)}"
            top = max(v for f in fields[1:] for v in f["values"] if v is not None)
            assert {v for v in band["values"] if v is not None} == {top}, "a band spans the whole chart"
    if view == AUSTRALIA_2023[0]:
        assert {period for period, _, _ in periods} >= {"Safety car", "Red flag"}


def test_gap_series_hold_the_real_race_gaps(applied: Applied) -> None:
    panel, _, out = applied[("gpi-race-progress", "Gap to leader")]
    fields = [f for f in _fields(out) if f["name"] not in dict(panel.bands)]
    laps = fields[0]["values"]
    assert laps[0] == 1 and laps[-1] > 40
    last = {f["displayName"].split(SEPARATOR)[0]: f["values"][-1] for f in fields[1:] if f["values"][-1] is not None}
    assert min(last.values()) == 0, "the leader's gap to itself"
    assert max(last.values()) < 150, "no suspension or retirement lap in the gaps"


def test_bar_charts_get_their_x_field(applied: Applied) -> None:
    bars = [(key, grafana, out) for key, (_, grafana, out) in applied.items() if grafana["type"] == "barchart"]
    assert bars
    for key, grafana, out in bars:
        names = [f["name"] for f in _fields(out)]
        assert grafana["options"]["xField"] in names, f"{key}: xField {grafana['options']['xField']!r} not in {names}"


def test_snowflake_panels_transform_and_configure_like_duckdb(specs: list[DashboardSpec]) -> None:
    for spec in specs:
        duck, snow = dashboard(spec, DUCKDB)["panels"], dashboard(spec, SNOWFLAKE)["panels"]
        for a, b in zip(duck, snow, strict=True):
            assert a.get("transformations") == b.get("transformations")
            assert a.get("fieldConfig") == b.get("fieldConfig") and a.get("options") == b.get("options")


LAP_TIME_TEXT = re.compile(r"^\d{1,2}:\d\d\.\d{3}$")


def test_stint_bars_stack_each_drivers_stints_in_order_in_the_compound_colours(applied: Applied) -> None:
    """What Grafana stacks for 2023 Bahrain: the flag periods' bar first, then the drivers in finishing order,
    each bar's segments in stint order and in the season's compound colours (Pirelli's, via FastF1)."""
    _, _, out = applied[("gpi-tyre-strategy@2023-01-R", "Stints by driver")]
    fields = _fields(out)
    rows = fields[0]["values"]
    assert rows[0] == TRACK_ROW
    assert [r.split(" ")[0] for r in rows[1:8]] == ["VER", "PER", "ALO", "SAI", "HAM", "STR", "RUS"]  # the result
    colours = compound_colours()["2023"]
    stacks: dict[str, list[str]] = {row: [] for row in rows}
    for field in fields[1:]:
        name = field["name"]
        if name.startswith("S"):
            compound = name.split(SEPARATOR)[1]
            assert field["color"].lower() == colours[compound].lower(), f"{name} drawn {field['color']}"
            assert field["custom"].get("fillOpacity") == (USED_FILL_OPACITY if name.endswith(USED) else 80)
        for row, value in zip(rows, field["values"], strict=True):
            if value:
                stacks[row].append(name)
    for row, segments in stacks.items():
        if row != TRACK_ROW:
            assert [int(s.split(SEPARATOR)[0][1:]) for s in segments] == list(range(1, len(segments) + 1)), row
    by_driver = {row.split(" ")[0]: [s.split(SEPARATOR)[1] for s in segs] for row, segs in stacks.items()}
    assert by_driver["VER"] == ["SOFT", "SOFT", "HARD"] and by_driver["SAI"] == ["SOFT", "HARD", "HARD"]
    # the flag periods' bar: green laps (not drawn) and the VSC of laps 41-42, as the race's flag-periods table has it
    track = [
        (f["name"].split(SEPARATOR)[1], f["values"][0], f["custom"].get("fillOpacity"), f["color"])
        for f in fields[1:]
        if f["name"].startswith("F") and f["values"][0]
    ]
    assert [(period, laps) for period, laps, _, _ in track] == [("Green", 40), ("Virtual safety car", 2), ("Green", 15)]
    assert [opacity for _, _, opacity, _ in track] == [0, 80, 0]
    assert track[1][3].lower() == FLAG_COLOURS["Virtual safety car"].lower()


def test_lap_and_sector_times_read_m_ss_sss(applied: Applied) -> None:
    """Grafana's own formatting (the `time:` unit in the dashboard's UTC) shows lap times as m:ss.SSS."""
    checked: dict[str, set[str]] = {}
    for key, (_, _, out) in applied.items():
        if out["error"]:
            continue  # the scatter panels (see test_every_panel_runs_through_grafanas_data_layer)
        for field in _fields(out):
            if field.get("unit") == LAP_TIME and field["texts"]:
                texts = [t for t in field["texts"] if t is not None]
                values = [v for v in field["values"] if v is not None]
                assert texts and all(LAP_TIME_TEXT.match(t) for t in texts), f"{key}/{field['name']}: {texts[:3]}"
                minutes, rest = texts[0].split(":")
                assert abs(int(minutes) * 60_000 + float(rest) * 1000 - values[0]) < 1, f"{key}: {texts[0]}"
                checked.setdefault(key[0].split("@")[0], set()).add(key[1])
    assert {"gpi-tyre-strategy", "gpi-race-pace", "gpi-weather"} <= checked.keys(), checked
    assert {
        "Stints",
        "Median lap time, humidity and rain by lap",
        "Fuel-corrected clean laps",
        "Stint pace",
        "Weather by session",
    } <= {t for titles in checked.values() for t in titles}


def test_box_plot_segments_stack_to_each_drivers_quantiles(applied: Applied) -> None:
    """The race-pace box plot as Grafana stacks it: invisible base, whiskers and box in the team's colour,
    segments adding up to the driver's 10th..90th percentile gap, team-mates side by side."""
    _, _, out = applied[("gpi-race-pace@2023-01-R", "Clean-lap pace: gap to the fastest lap")]
    fields = _fields(out)
    rows = fields[0]["values"]
    base = next(f for f in fields if f["name"] == "base")
    assert base["custom"]["fillOpacity"] == 0 and base["custom"]["hideFrom"]["legend"]
    assert min(base["values"]) >= 0, "gaps to the fastest lap"
    teams = [row.split(SEPARATOR)[-1] for row in rows]
    assert teams == sorted(teams, key=teams.index), "team-mates side by side"
    for i, row in enumerate(rows):
        segments = [f for f in fields[1:] if f["values"][i] and f["name"] != "base"]
        assert [f["name"].split(SEPARATOR)[0] for f in segments] == ["P10–Q1", "Q1–median", "median–Q3", "Q3–P90"]
        colour = colour_of(row)
        assert colour is not None and all(
            f["name"].endswith(row) and f["color"].lower() == colour.lower() for f in segments
        )
        assert all(f["values"][i] > 0 for f in segments)
