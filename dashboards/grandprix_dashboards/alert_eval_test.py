"""The pace-change rule evaluated offline, as Grafana would, on the warehouse built from the real shared races:
it fires on a real pace drop with a known cause and stays quiet on clean races, and the SQL Grafana is given is
the SQL evaluated here."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from grandprix_dashboards import alerts
from grandprix_dashboards.alert_eval import condition, firing_laps, instances_for, races
from grandprix_dashboards.datasources import DUCKDB as DUCKDB_DS
from grandprix_dashboards.query import Warehouse
from grandprix_dashboards.sql import DUCKDB, render

CHINA_2025, CHINA_2025_SPRINT, AUSTRALIA_2025, AUSTRALIA_2023 = "2025-02-R", "2025-02-S", "2025-01-R", "2023-03-R"


@pytest.fixture(scope="module")
def wh(warehouse_path: Path) -> Iterator[Warehouse]:
    with Warehouse(warehouse_path) as warehouse:
        yield warehouse


def test_fires_on_norris_brake_problem_in_the_2025_chinese_grand_prix(wh: Warehouse) -> None:
    """Norris finished 2nd nursing a brake problem over the last laps of the 2025 Chinese GP (his lap times rose
    from 1:35.5 on lap 53 to 1:39.4 on lap 56): the rule fires for him, on laps 55-56, and for nobody else."""
    laps = firing_laps(wh, CHINA_2025)
    assert [(lap.driver, lap.lap) for lap in laps] == [("NOR", 56)]
    assert laps[0].team == "McLaren" and laps[0].drop_s >= 3.0 and laps[0].delta_s > laps[0].drop_s
    (instance,) = instances_for(wh, CHINA_2025)
    assert instance.labels == {"race": "Chinese Grand Prix R", "driver": "NOR", "team": "McLaren"}
    assert instance.values == {"A": pytest.approx(laps[0].drop_s, abs=0.01), "B": 56.0}
    assert instance.summary == f"NOR lost {instance.values['A']:g} s a lap at lap 56 (Chinese Grand Prix R)"
    assert "(McLaren)" in instance.description and "ending on lap 56" in instance.description


@pytest.mark.parametrize("session_key", [CHINA_2025_SPRINT, AUSTRALIA_2025, AUSTRALIA_2023])
def test_quiet_on_races_without_a_car_problem(wh: Warehouse, session_key: str) -> None:
    """The 2025 Chinese sprint ran green throughout; 2025 Australia had safety cars and rain in the last laps that
    slowed the whole field; 2023 Australia had three red flags and a lapped Williams under blue flags."""
    assert firing_laps(wh, session_key) == []
    assert instances_for(wh, session_key) == []


def _mart(wh: Warehouse, where: str) -> list[tuple[object, ...]]:
    return wh.run(f"select driver, lap_number from {alerts.PACE_MART} where {where} order by 1, 2", {}).rows


def test_what_the_rule_leaves_out_on_real_laps(wh: Warehouse) -> None:
    """The quiet races are quiet because of the exclusions, not for want of slow laps."""
    # Rain returned over the last laps of Australia 2025: lap 53 was >= 1.5 s slow for most of the field.
    rain = _mart(
        wh,
        f"session_key = '{AUSTRALIA_2025}' and lap_number = 53 and is_clean_lap " "and fuel_corrected_delta_ms >= 1500",
    )
    assert len(rain) >= 10
    # Sargeant, lapped in Australia 2023, was shown blue flags on his two slow clean laps.
    lapped = _mart(
        wh,
        f"session_key = '{AUSTRALIA_2023}' and driver = 'SAR' and is_clean_lap " "and fuel_corrected_delta_ms >= 1500",
    )
    assert lapped and all(row in _mart(wh, f"session_key = '{AUSTRALIA_2023}' and is_blue_flagged") for row in lapped)
    # Pit, safety-car and red-flag laps are never clean (fct_laps.is_clean_lap), so they never count.
    assert (
        _mart(wh, "is_clean_lap and (is_pit_in or is_pit_out or track_status like '%4%' " "or track_status like '%5%')")
        == []
    )


def test_the_provisioned_query_is_the_evaluated_one_and_fires_on_a_recent_race(
    warehouse_path: Path, tmp_path: Path
) -> None:
    """Grafana runs the rule's queries over the races of the last day: shift the 2025 Chinese GP to an hour ago
    and run the provisioned SQL itself (DuckDB datasource) with its condition."""
    rule = alerts.provisioned_rule(alerts.PACE_CHANGE, DUCKDB_DS, folder_uid="gpi-duckdb", group="race-pace")
    *queries, expression = rule["data"]
    for query, spec in zip(queries, alerts.PACE_CHANGE.queries, strict=True):
        scoped = render(spec.for_session(), DUCKDB)
        recent = alerts.recent_scope(DUCKDB)
        assert recent in query["model"]["rawSql"]
        assert query["model"]["rawSql"].replace(recent, alerts.SESSION_SCOPE) == scoped
    ref, test = condition(expression["model"]["expression"])
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse_path, copy)
    with duckdb.connect(str(copy)) as con:
        con.execute(
            f"update {alerts.PACE_MART} set lap_end_utc = lap_end_utc + "
            f"(current_timestamp - (select max(lap_end_utc) from {alerts.PACE_MART} "
            f"where session_key = '{CHINA_2025}')) - interval 1 hour where session_key = '{CHINA_2025}'"
        )
        results = {q["refId"]: con.execute(q["model"]["rawSql"]).fetchall() for q in queries}
    firing = [row for row in results[ref] if test(float(row[-1]))]
    assert [row[:3] for row in firing] == [("Chinese Grand Prix R", "NOR", "McLaren")]
    assert [row for row in results["B"] if row[:3] == firing[0][:3]] == [("Chinese Grand Prix R", "NOR", "McLaren", 56)]
    assert len(results[ref]) > 15, "one series per driver of the recent race"


def test_races_lists_the_races_and_sprints(wh: Warehouse) -> None:
    assert races(wh, 2025) == [AUSTRALIA_2025, CHINA_2025, CHINA_2025_SPRINT]
    assert set(races(wh)) >= {AUSTRALIA_2023, "2023-01-R", "2023-04-S"}
