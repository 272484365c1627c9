"""The championship standings on a warehouse built from the real data by the local stack: every
round of every season against the official tables, the seasons whose titles hinge on the rules of
their era, the regulations' scales against the official results, and a property test of the
ranking on random seasons run through the marts' own compiled SQL."""

from __future__ import annotations

import random
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dbt_runner.runner import run_dbt
from dbt_tests.standings_reference import MARTS, ORACLE, read_oracle, verify_warehouse
from f1common.settings import Settings
from f1common.testing import f1data_dir_or_skip
from grandprix_local.harness import build_warehouse

COUNTBACK = 33  # var standings_countback_positions


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test warehouse of the local stack (the Ergast history + sample sessions), shared through its cache."""
    data = f1data_dir_or_skip()
    path = tmp_path_factory.mktemp("standings") / "warehouse.duckdb"
    return build_warehouse(path, settings=Settings(f1data_dir=data))


@pytest.fixture(scope="module")
def con(warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        yield connection


def _table(
    con: duckdb.DuckDBPyConnection, championship: str, season: int, rnd: int | None = None
) -> dict[str, tuple[Any, ...]]:
    """competitor -> (position, counted, scored, wins, unranked_reason) after the round (default: the last)."""
    relation, competitor = MARTS[championship]
    rows = con.execute(
        f"""select {competitor}, position, cumulative_points, points_scored, wins, unranked_reason
            from {relation}
            where season = $1 and round = coalesce($2, (select max(round) from {relation} where season = $1))""",
        [season, rnd],
    ).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def _drivers(con: duckdb.DuckDBPyConnection, season: int, rnd: int | None = None) -> dict[str, tuple[Any, ...]]:
    return _table(con, "drivers", season, rnd)


def _constructors(con: duckdb.DuckDBPyConnection, season: int, rnd: int | None = None) -> dict[str, tuple[Any, ...]]:
    return _table(con, "constructors", season, rnd)


# --- every round of every season --------------------------------------------------------------------


def test_every_round_equals_the_official_classification(warehouse: Path) -> None:
    reports = verify_warehouse(warehouse)
    for championship, report in reports.items():
        figures = report.as_dict()
        print(f"\n{championship}: {figures}")
        assert report.rounds == {"drivers": 1143, "constructors": 1079}[championship], figures
        assert not report.problems, {k: v for k, v in list(report.problems.items())[:10]}
        assert (report.official, report.finals_official) == (report.rounds, report.finals)
        assert report.not_in_reference == 0, "a computed round is missing from the oracle: rebuild it"
        # the reference itself: strictly equal wherever the FIA classification leaves it no choice
        assert report.strict > report.rounds / 3


def test_the_oracle_is_the_reference_and_nothing_reads_it_but_the_tests() -> None:
    oracle = read_oracle()
    assert len([k for k in oracle if k[0] == "drivers"]) == 1143
    final_1988 = oracle[("drivers", 1988, 16)]
    assert [(e.competitor, e.points, e.position) for e in final_1988[:2]] == [("senna", 90.0, 1), ("prost", 87.0, 2)]
    dbt_project = Path(__file__).resolve().parent.parent / "dbt"
    for path in dbt_project.rglob("*"):
        if path.is_file() and path.suffix in {".sql", ".yml", ".csv"}:
            assert ORACLE.name not in path.read_text(), f"{path} reads the test oracle"
            assert "driver_standings.csv" not in path.read_text(), f"{path} reads a published standings table"


# --- the seasons decided by their era's rules -------------------------------------------------------


def test_1988_senna_is_champion_on_his_best_eleven_results(con: duckdb.DuckDBPyConnection) -> None:
    table = _drivers(con, 1988)
    assert table["senna"] == (1, 90.0, 94.0, 8, None)
    assert table["prost"] == (2, 87.0, 105.0, 7, None)  # more points scored, fewer counted


def test_1964_surtees_and_ferrari_win_on_dropped_scores(con: duckdb.DuckDBPyConnection) -> None:
    drivers = _drivers(con, 1964)
    assert drivers["surtees"][:3] == (1, 40.0, 40.0)
    assert drivers["hill"][:3] == (2, 39.0, 41.0)  # Hill scored more, but only his best six counted
    constructors = _constructors(con, 1964)
    assert constructors["ferrari"][:3] == (1, 45.0, 49.0)
    assert constructors["brm"][:3] == (2, 42.0, 51.0)


def test_1958_vanwall_wins_the_first_constructors_title_on_its_best_placed_cars(con: duckdb.DuckDBPyConnection) -> None:
    constructors = _constructors(con, 1958)
    assert constructors["vanwall"][:3] == (1, 48.0, 57.0)
    assert constructors["ferrari"][:3] == (2, 40.0, 57.0)
    # no constructors' championship before 1958, and the Indianapolis 500 never counted for it
    [(earliest,)] = con.execute("select min(season) from analytics.mart_constructor_standings").fetchall()
    assert earliest == 1958
    assert "kurtis_kraft" not in _constructors(con, 1958)


def test_1997_schumacher_keeps_his_results_but_is_unranked(con: duckdb.DuckDBPyConnection) -> None:
    before_jerez = _drivers(con, 1997, 16)
    assert before_jerez["michael_schumacher"][:2] == (1, 78.0)
    final = _drivers(con, 1997)
    position, counted, scored, wins, reason = final["michael_schumacher"]
    assert (position, counted, scored, wins) == (None, 78.0, 78.0, 5)
    assert reason.startswith("excluded: disqualified from the 1997 drivers' championship")
    assert final["villeneuve"][:2] == (1, 81.0) and final["frentzen"][:2] == (2, 42.0)


def test_2007_mclaren_is_excluded_from_the_constructors_championship(con: duckdb.DuckDBPyConnection) -> None:
    constructors = _constructors(con, 2007)
    position, counted, scored, wins, reason = constructors["mclaren"]
    assert (position, counted, scored, wins) == (None, 0.0, 218.0, 8)
    assert reason.startswith("excluded:")
    assert constructors["ferrari"][:2] == (1, 204.0) and constructors["bmw_sauber"][:2] == (2, 101.0)
    drivers = _drivers(con, 2007)  # the drivers kept their points
    assert {d: drivers[d][:2] for d in ("raikkonen", "hamilton", "alonso")} == {
        "raikkonen": (1, 110.0),
        "hamilton": (2, 109.0),
        "alonso": (3, 109.0),
    }  # Hamilton ahead on second places


def test_2014_finale_scores_double_points(con: duckdb.DuckDBPyConnection) -> None:
    [(points, total)] = con.execute(
        "select points, cumulative_points from analytics.mart_driver_standings "
        "where season = 2014 and round = 19 and driver_id = 'hamilton'"
    ).fetchall()
    assert (points, total) == (50.0, 384.0)


def test_2021_belgian_grand_prix_scores_half_points(con: duckdb.DuckDBPyConnection) -> None:
    rows = dict(
        con.execute(
            "select driver_id, points from analytics.mart_driver_standings "
            "where season = 2021 and round = 12 and points > 0"
        ).fetchall()
    )
    assert {d: rows[d] for d in ("max_verstappen", "russell", "hamilton")} == {
        "max_verstappen": 12.5,
        "russell": 9.0,
        "hamilton": 7.5,
    }
    assert _drivers(con, 2021)["max_verstappen"][:2] == (1, 395.5)


def test_sprint_points_follow_each_years_scale_and_never_count_as_wins(con: duckdb.DuckDBPyConnection) -> None:
    def sprint(season: int, rnd: int) -> dict[str, float]:
        return dict(
            con.execute(
                "select driver_id, points from analytics.int_championship__results "
                "where season = $1 and round = $2 and session = 'S' and points > 0",
                [season, rnd],
            ).fetchall()
        )

    assert sorted(sprint(2021, 10).values(), reverse=True) == [3.0, 2.0, 1.0]  # 2021: 3-2-1
    assert sorted(sprint(2022, 4).values(), reverse=True) == [8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0]  # from 2022
    assert sprint(2023, 4)["perez"] == 8.0
    # Verstappen won the 2021 British sprint and retired from the Grand Prix: 3 points, no win
    assert con.execute(
        "select points, wins from analytics.mart_driver_standings where season = 2021 and round = 10 "
        "and driver_id = 'max_verstappen'"
    ).fetchall() == [(3.0, 5)]


def test_zero_point_entries_are_ordered_by_countback_in_a_modern_and_an_old_season(
    con: duckdb.DuckDBPyConnection,
) -> None:
    def zero_pointers(season: int) -> list[tuple[str, int, int | None]]:
        return con.execute(
            """select d.driver_id, d.position, min(r.position) as best_place
               from analytics.mart_driver_standings as d
               inner join analytics.int_championship__results as r
                   on d.season = r.season and d.driver_id = r.driver_id and r.session = 'R'
               where d.season = $1 and d.cumulative_points = 0 and d.is_ranked
                   and d.round = (select max(round) from analytics.mart_driver_standings where season = $1)
               group by d.driver_id, d.position order by d.position, d.driver_id""",
            [season],
        ).fetchall()

    modern = zero_pointers(2014)
    assert [d for d, _, _ in modern][:3] == ["sutil", "ericsson", "gutierrez"]  # best places 11th, 11th, 12th
    assert modern[0][1] == 18 and modern[-1][0] == "lotterer"  # Lotterer: no classified place
    old = zero_pointers(1988)
    assert [d for d, _, _ in old][:3] == ["dalmas", "caffi", "brundle"]  # 7th places first
    for table in (modern, old):
        bests = [b if b is not None else 99 for _, _, b in table]
        assert bests == sorted(bests), "a zero-point driver is ranked behind one with a worse best place"


def test_unranked_entries_say_why(con: duckdb.DuckDBPyConnection) -> None:
    reasons = dict(
        con.execute(
            "select unranked_reason, count(*) from analytics.mart_driver_standings where not is_ranked group by 1"
        ).fetchall()
    )
    no_result = "no points and no classified Grand Prix result"
    assert all(r and (r.startswith("excluded:") or r == no_result) for r in reasons)
    [(bad,)] = con.execute(
        "select count(*) from analytics.mart_driver_standings where is_ranked = (position is null)"
    ).fetchall()
    assert bad == 0


# --- the regulations' scales against the official results -------------------------------------------

# Official results that do not follow the season's scale, each for a documented reason (1960 on:
# before, shared drives and shared fastest laps split points in ways a scale cannot express).
SCALE_EXCEPTIONS = {
    (1960, 1, "moss"): "shared the third-placed car: shared drives score nothing from 1958",
    (1960, 1, "trintignant"): "shared the third-placed car: shared drives score nothing from 1958",
    (1963, 4, "hill"): "push-started on the grid: no points (French GP)",
    (1967, 7, "oliver"): "Formula 2 car: no points; the Formula 1 cars behind took them (German GP)",
    (1967, 7, "bonnier"): "promoted over the Formula 2 cars ahead (German GP)",
    (1967, 7, "ligier"): "promoted over the Formula 2 cars ahead (German GP)",
    (1984, 14, "gartner"): "second car of a team entered for one car: no points (Italian GP)",
    (1984, 14, "berger"): "second car of a team entered for one car: no points (Italian GP)",
    (1987, 16, "dalmas"): "second car of a team entered for one car: no points (Australian GP)",
    (2024, 8, "hamilton"): "fastest lap (7th): the Ergast dump lacks the race's fastest-lap ranks",
}


def test_official_points_follow_the_seasons_scale(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(
        """with results as (
               select races.season, races.round, drivers.driver_ref, r.position, r.points, r.fastest_lap_rank
               from analytics.stg_ergast__results as r
               inner join analytics.stg_ergast__races as races on r.race_id = races.race_id
               inner join analytics.stg_ergast__drivers as drivers on r.driver_id = drivers.driver_id
               where races.season >= 1960
           )
           select results.season, results.round, results.driver_ref, results.points,
                  coalesce(scales.points, 0) * coalesce(rules.points_factor, 1)
                  + case when regs.fastest_lap_condition = 'classified_top_10' and results.fastest_lap_rank = 1
                              and results.position <= 10 and coalesce(rules.points_factor, 1) = 1
                         then regs.fastest_lap_points else 0 end as expected
           from results
           inner join analytics.championship_regulations as regs
               on results.season = regs.season and regs.championship = 'drivers'
           left join analytics.championship_round_rules as rules
               on results.season = rules.season and results.round = rules.round
               and rules.championship in ('drivers', 'both')
           left join analytics.championship_points_scales as scales
               on scales.scale = coalesce(rules.race_scale, regs.race_scale) and scales.position = results.position"""
    ).fetchall()
    assert len(rows) > 20_000
    differing = {(s, r, d) for s, r, d, points, expected in rows if abs(points - expected) > 1e-9}
    assert differing == set(SCALE_EXCEPTIONS)


# --- the ranking, property-tested on random seasons through the mart's compiled SQL -----------------


@dataclass
class RandomSeason:
    season: int
    rounds: int
    split_after: int | None
    best: int | None
    best_after: int | None
    results: dict[tuple[int, str], tuple[float, int | None]]  # (round, driver) -> (points, place)


def _random_seasons(count: int, rng: random.Random) -> list[RandomSeason]:
    seasons = []
    for season in range(1, count + 1):
        rounds = rng.randint(1, 7)
        drivers = [f"d{i}" for i in range(rng.randint(2, 9))]
        split = rng.choice([None, None, rng.randint(1, rounds)])
        best = rng.choice([None, rng.randint(1, rounds)])
        best_after = rng.randint(1, rounds) if split is not None else None
        results: dict[tuple[int, str], tuple[float, int | None]] = {}
        scale = [5, 3, 3, 1, 1, 0, 0, 0, 0]  # coarse, so that totals and places tie often
        for rnd in range(1, rounds + 1):
            starters = [d for d in drivers if rng.random() < 0.85]
            rng.shuffle(starters)
            for place, driver in enumerate(starters, start=1):
                classified = rng.random() < 0.8
                results[(rnd, driver)] = (float(scale[place - 1]) if classified else 0.0, place if classified else None)
        seasons.append(RandomSeason(season, rounds, split, best, best_after, results))
    return seasons


def _expected(season: RandomSeason) -> dict[tuple[int, str], tuple[float, float, int, bool, int | None]]:
    """(round, driver) -> (counted, scored, position, shares_position, countback_place), computed independently."""
    expected = {}
    for rnd in range(1, season.rounds + 1):
        entered = {d for (r, d) in season.results if r <= rnd}
        stats = {}
        for driver in entered:
            mine = [(r, *season.results[(r, driver)]) for r in range(1, rnd + 1) if (r, driver) in season.results]
            halves: dict[int, list[float]] = {1: [], 2: []}
            for r, points, _ in mine:
                halves[1 if season.split_after is None or r <= season.split_after else 2].append(points)
            counted = sum(
                sum(sorted(p, reverse=True)[:n] if n else p)
                for p, n in ((halves[1], season.best), (halves[2], season.best_after))
            )
            places = Counter(place for _, _, place in mine if place is not None)
            counts = tuple(places.get(k, 0) for k in range(1, COUNTBACK + 1))
            stats[driver] = (counted, sum(p for _, p, _ in mine), counts)
        order = sorted(stats, key=lambda d: (-stats[d][0], tuple(-c for c in stats[d][2])))
        keys = [(stats[d][0], stats[d][2]) for d in order]
        for i, driver in enumerate(order):
            position = next(j for j in range(len(order)) if keys[j] == keys[i]) + 1
            shares = keys.count(keys[i]) > 1
            rival = None
            if not shares:
                if i > 0 and stats[order[i - 1]][0] == stats[driver][0]:
                    rival = order[i - 1]
                elif i + 1 < len(order) and stats[order[i + 1]][0] == stats[driver][0]:
                    rival = order[i + 1]
            place = None
            if rival is not None:
                place = next(k + 1 for k in range(COUNTBACK) if stats[driver][2][k] != stats[rival][2][k])
            expected[(rnd, driver)] = (stats[driver][0], stats[driver][1], position, shares, place)
    return expected


@pytest.fixture(scope="module")
def compiled_mart(warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """mart_driver_standings compiled by dbt against a copy of the test warehouse, as a first build compiles it
    (every season of its season versions to build)."""
    work = tmp_path_factory.mktemp("compiled")
    copy = work / "warehouse.duckdb"
    shutil.copyfile(warehouse, copy)
    run_dbt(["compile", "--select", "mart_driver_standings", "--full-refresh"], warehouse_path=copy, artifacts_dir=work)
    return next((work / "target" / "compiled").rglob("mart_driver_standings.sql")).read_text()


def test_ranking_property_on_random_seasons(compiled_mart: str, tmp_path: Path) -> None:
    seasons = _random_seasons(300, random.Random(20261201))
    database = re.search(r'from "([^"]+)"\."analytics"\."int_championship__driver_rounds"', compiled_mart)
    assert database, "the compiled mart reads int_championship__driver_rounds"
    path = tmp_path / f"{database.group(1)}.duckdb"  # the compiled SQL names the database by its file
    places = ", ".join(f"finishes_p{k} integer" for k in range(1, COUNTBACK + 1))
    with duckdb.connect(str(path)) as con:
        con.execute("create schema analytics")
        con.execute(
            f"""create table analytics.int_championship__driver_rounds (season integer, round integer,
                        driver_id varchar, driver_code varchar, driver_name varchar, team_name varchar, points double,
                        is_classified boolean, has_result boolean, {places})"""
        )
        con.execute(
            "create table analytics.int_championship__results (season integer, round integer, event_name varchar)"
        )
        con.execute(
            """create table analytics.championship_regulations (season integer, championship varchar,
                       is_awarded boolean, split_after_round integer, best_results integer,
                       best_results_after_split integer, ranked_entries varchar)"""
        )
        con.execute(
            """create table analytics.championship_adjustments (season integer, championship varchar,
                       competitor_id varchar, from_round integer, adjustment varchar, removes_all_points boolean,
                       points_deducted double, reason varchar)"""
        )
        con.execute("create table analytics.int_seasons__input_versions (season integer, standings_version varchar)")
        for s in seasons:
            con.execute("insert into analytics.int_seasons__input_versions values (?, 'v1')", [s.season])
            con.execute(
                "insert into analytics.championship_regulations values (?, 'drivers', true, ?, ?, ?, 'all_entrants')",
                [s.season, s.split_after, s.best, s.best_after],
            )
            con.executemany(
                "insert into analytics.int_championship__results values (?, ?, ?)",
                [[s.season, r, f"R{r}"] for r in range(1, s.rounds + 1)],
            )
            con.executemany(
                "insert into analytics.int_championship__driver_rounds values "
                f"(?, ?, ?, null, null, 'T', ?, ?, true, {', '.join('?' * COUNTBACK)})",
                [
                    [s.season, r, d, points, place is not None, *[int(place == k) for k in range(1, COUNTBACK + 1)]]
                    for (r, d), (points, place) in s.results.items()
                ],
            )
        rows = con.execute(
            f"select season, round, driver_id, cumulative_points, points_scored, position, shares_position, "
            f"countback_place from ({compiled_mart})"
        ).fetchall()
    computed = {(s, r, d): tuple(rest) for s, r, d, *rest in rows}
    expected = {(s.season, r, d): v for s in seasons for (r, d), v in _expected(s).items()}
    assert computed.keys() == expected.keys()
    wrong = {k: (computed[k], expected[k]) for k in expected if computed[k] != expected[k]}
    assert not wrong, list(wrong.items())[:5]
    ties = sum(1 for v in expected.values() if v[4] is not None)
    shared = sum(1 for v in expected.values() if v[3])
    assert ties > 200 and shared > 200, (ties, shared)  # the random seasons exercise both
