"""The comparison with the official tables: what it accepts, what it catches, and the oracle's format."""

from __future__ import annotations

import csv
from pathlib import Path

from dbt_tests.standings_reference import Entry, Erratum, build_oracle, official_problems, read_oracle, strict_equal

KEY = ("drivers", 2000, 3)


def _table(*rows: tuple[str, float, int | None]) -> list[Entry]:
    return [Entry(c, p, pos) for c, p, pos in rows]


REFERENCE = _table(("a", 20, 1), ("b", 12, 2), ("c", 0, 3), ("d", 0, 4), ("e", 0, 5))


def test_the_same_table_is_equal_both_ways() -> None:
    assert strict_equal(REFERENCE, REFERENCE)
    assert official_problems(KEY, REFERENCE, REFERENCE, []) == ([], 0)


def test_entries_the_countback_cannot_separate_may_share_a_position() -> None:
    ours = _table(("a", 20, 1), ("b", 12, 2), ("c", 0, 3), ("d", 0, 3), ("e", 0, 5))
    assert not strict_equal(ours, REFERENCE)
    assert official_problems(KEY, ours, REFERENCE, []) == ([], 0)


def test_points_positions_listing_and_order_differences_are_caught() -> None:
    cases = {
        "points": (
            _table(("a", 21, 1), ("b", 12, 2), ("c", 0, 3), ("d", 0, 4), ("e", 0, 5)),
            "a: 21 points, official 20",
        ),
        "position": (
            _table(("b", 12, 1), ("a", 20, 2), ("c", 0, 3), ("d", 0, 4), ("e", 0, 5)),
            "a: position 2, official 1",
        ),
        "listing": (
            _table(("a", 20, 1), ("b", 12, 2), ("c", 0, 3), ("d", 0, 4), ("e", 0, None)),
            "e: unranked, officially ranked",
        ),
        "missing": (_table(("a", 20, 1), ("b", 12, 2), ("c", 0, 3), ("d", 0, 4)), "e: in the reference"),
        "order": (
            _table(("a", 20, 1), ("b", 12, 2), ("e", 0, 3), ("c", 0, 4), ("d", 0, 5)),
            "(position 4) is ahead of e in the reference",
        ),
    }
    for name, (ours, expected) in cases.items():
        problems, _ = official_problems(KEY, ours, REFERENCE, [])
        assert any(expected in p for p in problems), (name, problems)


def test_an_erratum_gives_the_official_value_only_where_it_applies() -> None:
    ours = _table(("a", 20, 1), ("b", 10, 2), ("c", 0, 3), ("d", 0, 4), ("e", 0, 5))
    fix = Erratum("drivers", 2000, 3, 3, "b", "points", "10", "the reference counts a result it should not")
    assert official_problems(KEY, ours, REFERENCE, [fix]) == ([], 1)
    later = Erratum("drivers", 2000, 4, 9, "b", "points", "10", "a later round")
    assert official_problems(KEY, ours, REFERENCE, [later])[0] == ["b: 10 points, official 12"]


def test_the_oracle_keeps_the_reference_tables(tmp_path: Path) -> None:
    def write(name: str, header: list[str], rows: list[list[object]]) -> None:
        with (tmp_path / f"{name}.csv").open("w", newline="") as fh:
            csv.writer(fh).writerows([header, *rows])

    write("races", ["raceId", "year", "round"], [[1, 1997, 17]])
    write("drivers", ["driverId", "driverRef"], [[1, "villeneuve"], [2, "michael_schumacher"]])
    write("constructors", ["constructorId", "constructorRef"], [[1, "williams"]])
    write(
        "driver_standings",
        ["driverStandingsId", "raceId", "driverId", "points", "position", "positionText", "wins"],
        [[1, 1, 2, 78, 26, "D", 5], [2, 1, 1, 81, 1, "1", 7]],
    )
    write(
        "constructor_standings",
        ["constructorStandingsId", "raceId", "constructorId", "points", "position", "positionText", "wins"],
        [[1, 1, 1, 123, 1, "1", 8]],
    )
    out = tmp_path / "oracle.csv.gz"
    assert build_oracle(tmp_path, out) == {"drivers": 1, "constructors": 1}
    first = out.read_bytes()
    build_oracle(tmp_path, out)
    assert out.read_bytes() == first, "the same reference gives the same bytes"
    tables = read_oracle(out)
    assert tables[("drivers", 1997, 17)] == [Entry("villeneuve", 81.0, 1), Entry("michael_schumacher", 78.0, None, "D")]
    assert tables[("constructors", 1997, 17)] == [Entry("williams", 123.0, 1)]
