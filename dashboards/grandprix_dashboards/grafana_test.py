"""Generated Grafana JSON: schema, nulls, grid layout, datasource/target shapes, variables and refresh."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from grandprix_dashboards.catalog import dashboards
from grandprix_dashboards.datasources import DUCKDB, SNOWFLAKE, Datasource
from grandprix_dashboards.grafana import clean, dashboard
from grandprix_dashboards.validate import datasource_problems, layout_problems, null_paths, schema_errors

CASES = [(spec, ds) for spec in dashboards() for ds in (DUCKDB, SNOWFLAKE)]
IDS = [f"{spec.slug}-{ds.key}" for spec, ds in CASES]


@pytest.fixture(params=CASES, ids=IDS)
def generated(request: pytest.FixtureRequest) -> tuple[dict[str, Any], Datasource]:
    spec, ds = request.param
    return dashboard(spec, ds), ds


def test_matches_grafana_dashboard_schema(generated: tuple[dict[str, Any], Datasource]) -> None:
    data, _ = generated
    assert schema_errors(data) == []


def test_schema_check_rejects_a_broken_dashboard(generated: tuple[dict[str, Any], Datasource]) -> None:
    data, _ = generated
    broken = copy.deepcopy(data)
    broken["panels"][0]["gridPos"]["w"] = "wide"
    del broken["schemaVersion"]
    errors = schema_errors(broken)
    assert any(e.startswith("panels/0:") for e in errors)
    assert any("'schemaVersion' is a required property" in e for e in errors)


def test_no_nulls_except_base_threshold(generated: tuple[dict[str, Any], Datasource]) -> None:
    data, _ = generated
    assert list(null_paths(data)) == []
    steps = [
        p["fieldConfig"]["defaults"]["thresholds"]["steps"]
        for p in data["panels"]
        if p["fieldConfig"]["defaults"].get("thresholds", {}).get("steps")
    ]
    assert steps and all(s[0]["value"] is None for s in steps), "the base threshold step keeps value: null"


def test_layout_fits_the_grid_without_overlaps(generated: tuple[dict[str, Any], Datasource]) -> None:
    data, _ = generated
    assert layout_problems(data) == []
    assert {p["type"] for p in data["panels"]} <= {"trend", "xychart", "timeseries", "barchart", "table", "stat"}


def test_layout_check_finds_overlap_and_overflow() -> None:
    data = dashboard(dashboards()[0], DUCKDB)
    data["panels"][1]["gridPos"] = dict(data["panels"][0]["gridPos"], x=2)
    data["panels"][2]["gridPos"]["x"] = 20
    problems = layout_problems(data)
    assert any("overlaps" in p for p in problems)
    assert any("outside the 24-column grid" in p for p in problems)


def test_datasource_and_targets_match_the_plugin(generated: tuple[dict[str, Any], Datasource]) -> None:
    data, ds = generated
    assert datasource_problems(data, ds) == []
    for panel in data["panels"]:
        (target,) = panel["targets"]
        assert panel["datasource"] == target["datasource"] == {"type": ds.plugin, "uid": ds.uid}
        if ds is DUCKDB:
            assert target["format"] in (0, 1) and isinstance(target["format"], int)
        else:
            assert target["format"] in ("table", "time_series")
        assert "queryText" not in target and "expr" not in target


def test_datasource_check_rejects_the_other_plugins_shape() -> None:
    duck = dashboard(dashboards()[0], DUCKDB)
    assert datasource_problems(duck, SNOWFLAKE)  # numeric format, wrong uid
    snow = dashboard(dashboards()[0], SNOWFLAKE)
    snow["panels"][0]["targets"][0]["queryText"] = "select 1"
    assert any("queryText" in p for p in datasource_problems(snow, SNOWFLAKE))


def test_same_sql_definition_for_both_datasources() -> None:
    for spec in dashboards():
        duck, snow = dashboard(spec, DUCKDB), dashboard(spec, SNOWFLAKE)
        assert [p["title"] for p in duck["panels"]] == [p["title"] for p in snow["panels"]]
        assert [p["gridPos"] for p in duck["panels"]] == [p["gridPos"] for p in snow["panels"]]
        assert duck["uid"] != snow["uid"] and len(snow["uid"]) <= 40


def test_variables_refresh_and_defaults() -> None:
    by_uid = {s.uid: dashboard(s, DUCKDB) for s in dashboards()}
    for data in by_uid.values():
        assert data["refresh"] == "5m"
    names = {uid: [v["name"] for v in d["templating"]["list"]] for uid, d in by_uid.items()}
    assert names["gpi-race-progress"] == ["season", "event", "session", "driver"]
    assert names["gpi-weather"] == ["season", "event", "session", "driver"]
    assert names["gpi-standings"] == ["season", "driver"]
    driver = by_uid["gpi-race-progress"]["templating"]["list"][3]
    assert driver["multi"] and driver["includeAll"] and driver["current"]["value"] == ["$__all"]
    season = by_uid["gpi-race-progress"]["templating"]["list"][0]
    assert "current" not in season, "no fixed default: Grafana selects the first (latest) season"
    assert season["refresh"] == 1 and season["sort"] == 0
    positions = next(p for p in by_uid["gpi-race-progress"]["panels"] if p["title"] == "Positions by lap")
    assert positions["type"] == "trend" and positions["options"]["xField"] == "lap\\driver"
    assert positions["fieldConfig"]["defaults"]["custom"]["transform"] == "negative-Y"
    assert positions["transformations"] == [
        {
            "id": "groupingToMatrix",
            "options": {"rowField": "lap", "columnField": "driver", "valueField": "position", "emptyValue": "null"},
        }
    ]


def test_team_coloured_panels_carry_one_override_per_team() -> None:
    by_uid = {s.uid: dashboard(s, SNOWFLAKE) for s in dashboards()}
    red_bull_pattern = "/(^| · )Red Bull Racing$/"
    coloured = {
        (uid, p["title"])
        for uid, d in by_uid.items()
        for p in d["panels"]
        if any(o["matcher"]["options"] == red_bull_pattern for o in p.get("fieldConfig", {}).get("overrides", []))
    }
    assert coloured == {
        ("gpi-race-progress", "Positions by lap"),
        ("gpi-race-progress", "Gap to leader"),
        ("gpi-standings", "Drivers' championship: cumulative points"),
        ("gpi-standings", "Drivers' championship position"),
        ("gpi-standings", "Constructors' championship: cumulative points"),
        ("gpi-tyre-strategy", "Tyre age by lap"),
        ("gpi-race-pace", "Clean-lap pace: gap to the fastest lap"),
        ("gpi-race-pace", "Fuel-corrected clean laps"),
        ("gpi-race-pace", "Fuel-corrected median per stint"),
        ("gpi-pit-stops", "Pit loss per stop, by team"),
    }
    gaps = next(p for p in by_uid["gpi-race-progress"]["panels"] if p["title"] == "Gap to leader")
    red_bull = [o for o in gaps["fieldConfig"]["overrides"] if o["matcher"]["options"] == red_bull_pattern]
    assert red_bull == [
        {
            "matcher": {"id": "byRegexp", "options": red_bull_pattern},
            "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": "#3671C6"}}],
        }
    ]
    # a team's second driver dashed, after the colours (a later override wins)
    overrides = gaps["fieldConfig"]["overrides"]
    dashed = [i for i, o in enumerate(overrides) if o["matcher"]["options"] == "/ \\(2\\)( · [^·]+)?$/"]
    assert len(dashed) == 1 and dashed[0] > overrides.index(red_bull[0])
    assert overrides[dashed[0]]["properties"] == [
        {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 6]}}
    ]


def test_clean_keeps_threshold_null_and_drops_other_nulls() -> None:
    raw = {
        "a": None,
        "b": {"steps": [{"value": None, "color": "green"}, {"value": 80, "color": "red"}]},
        "links": [],
        "c": [{"d": None, "e": 1}],
        "rows": [],
    }
    assert clean(raw) == {
        "b": {"steps": [{"value": None, "color": "green"}, {"value": 80, "color": "red"}]},
        "c": [{"e": 1}],
    }
