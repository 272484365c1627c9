"""The computed championship standings against the official per-round tables.

    python -m dbt_tests.standings_reference build-oracle --ergast <dir>   # writes the test oracle
    python -m dbt_tests.standings_reference verify --warehouse <duckdb>   # prints the match counts

The reference is Ergast's `driver_standings.csv` / `constructor_standings.csv` (the public Ergast
mirror TracingInsights/RaceData, the source of the shared dump; see `oracle/README.md`). The dbt
project never reads it: `build-oracle` condenses it into `oracle/official_standings.csv.gz`, which
only the tests read. Where the reference itself differs from the FIA classification,
`oracle/reference_errata.csv` says so entry by entry, with the official value and a source.

Two comparisons per round:
- strict: every entry of the reference has the same points and position, and nothing else is ranked;
- official: the FIA classification - the same points for every entry; the same positions for every
  entry with points; the same set of ranked entries; entries without points in an order the
  reference does not contradict (the countback cannot separate some of them: the FIA then decides,
  and the reference lists them in an arbitrary order where the standings share the position), and
  the errata applied.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ORACLE_DIR = Path(__file__).resolve().parent / "oracle"
ORACLE = ORACLE_DIR / "official_standings.csv.gz"
ERRATA = ORACLE_DIR / "reference_errata.csv"
CHAMPIONSHIPS = ("drivers", "constructors")
MARTS = {
    "drivers": ("analytics.mart_driver_standings", "driver_id"),
    "constructors": ("analytics.mart_constructor_standings", "constructor_id"),
}
ERRATA_CHECKS = ("points", "position", "listing", "order")

Key = tuple[str, int, int]  # championship, season, round


@dataclass(frozen=True)
class Entry:
    competitor: str
    points: float
    position: int | None  # None: listed without a position (disqualified, excluded, unranked)
    label: str = ""  # the reference's position text when it is not a number ('D', 'E', '-')


@dataclass(frozen=True)
class Erratum:
    championship: str
    season: int
    from_round: int
    to_round: int
    competitor: str
    check: str
    fia_value: str
    reason: str

    def covers(self, key: Key, competitor: str, check: str) -> bool:
        return (
            self.championship == key[0]
            and self.season == key[1]
            and self.from_round <= key[2] <= self.to_round
            and self.competitor == competitor
            and self.check == check
        )


@dataclass
class Report:
    championship: str
    rounds: int = 0
    strict: int = 0
    official: int = 0
    finals: int = 0
    finals_strict: int = 0
    finals_official: int = 0
    not_in_reference: int = 0
    errata_applied: int = 0
    problems: dict[Key, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "rounds": self.rounds,
            "rounds_equal_strict": self.strict,
            "rounds_equal_official": self.official,
            "final_tables": self.finals,
            "final_tables_equal_strict": self.finals_strict,
            "final_tables_equal_official": self.finals_official,
            "computed_rounds_without_reference": self.not_in_reference,
            "errata_applied": self.errata_applied,
        }


# --- the oracle ------------------------------------------------------------------------------------


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def build_oracle(ergast_dir: Path, out: Path = ORACLE) -> dict[str, int]:
    """Condenses Ergast's per-round standings into the oracle: one line per championship round with
    the table in the reference's order, `competitor:points:position` (position text for D, E, -)."""
    races = {r["raceId"]: (int(r["year"]), int(r["round"])) for r in _read_csv(ergast_dir / "races.csv")}
    refs = {
        "drivers": ({r["driverId"]: r["driverRef"] for r in _read_csv(ergast_dir / "drivers.csv")}, "driverId"),
        "constructors": (
            {r["constructorId"]: r["constructorRef"] for r in _read_csv(ergast_dir / "constructors.csv")},
            "constructorId",
        ),
    }
    lines: list[tuple[str, int, int, str]] = []
    counts: dict[str, int] = {}
    for championship in CHAMPIONSHIPS:
        names, id_column = refs[championship]
        rows = _read_csv(ergast_dir / f"{championship[:-1]}_standings.csv")
        tables: dict[tuple[int, int], list[dict[str, str]]] = defaultdict(list)
        for row in rows:
            tables[races[row["raceId"]]].append(row)
        for (season, rnd), table in sorted(tables.items()):
            table.sort(key=lambda r: (int(r["position"]) if r["position"].isdigit() else 10**6, names[r[id_column]]))
            cells = [f"{names[r[id_column]]}:{_number(r['points'])}:{r['positionText']}" for r in table]
            lines.append((championship, season, rnd, " ".join(cells)))
        counts[championship] = len(tables)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["championship", "season", "round", "standings"])
    writer.writerows(lines)
    out.parent.mkdir(parents=True, exist_ok=True)
    # mtime 0: the same reference always gives the same bytes
    with gzip.GzipFile(filename="", mode="wb", fileobj=out.open("wb"), mtime=0) as gz:
        gz.write(buffer.getvalue().encode("utf-8"))
    return counts


def _number(text: str) -> str:
    value = float(text)
    return str(int(value)) if value == int(value) else repr(value)


def read_oracle(path: Path = ORACLE) -> dict[Key, list[Entry]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        tables: dict[Key, list[Entry]] = {}
        for row in csv.DictReader(fh):
            entries = []
            for cell in row["standings"].split(" "):
                competitor, points, position = cell.rsplit(":", 2)
                numeric = position.isdigit()
                entries.append(
                    Entry(competitor, float(points), int(position) if numeric else None, "" if numeric else position)
                )
            tables[(row["championship"], int(row["season"]), int(row["round"]))] = entries
    return tables


def read_errata(path: Path = ERRATA) -> list[Erratum]:
    errata = []
    for row in _read_csv(path):
        if row["check"] not in ERRATA_CHECKS:
            raise ValueError(f"{path.name}: unknown check {row['check']!r}")
        errata.append(
            Erratum(
                row["championship"],
                int(row["season"]),
                int(row["from_round"]),
                int(row["to_round"]),
                row["competitor_id"],
                row["check"],
                row["fia_value"],
                row["reason"],
            )
        )
    return errata


# --- the computed standings ------------------------------------------------------------------------


def computed_tables(con: object, championship: str) -> dict[Key, list[Entry]]:
    """The standings marts of a warehouse (a DuckDB connection) as tables keyed like the oracle."""
    relation, competitor = MARTS[championship]
    rows = con.execute(  # type: ignore[attr-defined]
        f"select season, round, {competitor}, cumulative_points, position from {relation} "
        f"order by season, round, position nulls last, {competitor}"
    ).fetchall()
    tables: dict[Key, list[Entry]] = defaultdict(list)
    for season, rnd, competitor_id, points, position in rows:
        tables[(championship, int(season), int(rnd))].append(
            Entry(competitor_id, float(points), None if position is None else int(position))
        )
    return dict(tables)


# --- comparing -------------------------------------------------------------------------------------


def strict_equal(ours: Sequence[Entry], reference: Sequence[Entry]) -> bool:
    mine = {e.competitor: e for e in ours}
    for ref in reference:
        entry = mine.pop(ref.competitor, None)
        if entry is None or abs(entry.points - ref.points) > 1e-6 or entry.position != ref.position:
            return False
    return all(e.position is None for e in mine.values())


def official_problems(
    key: Key, ours: Sequence[Entry], reference: Sequence[Entry], errata: Iterable[Erratum]
) -> tuple[list[str], int]:
    """What keeps `ours` from being the official table (empty: it is), and how many errata applied."""
    errata = [e for e in errata if e.championship == key[0] and e.season == key[1]]
    applied = 0

    def erratum(competitor: str, check: str) -> Erratum | None:
        nonlocal applied
        for e in errata:
            if e.covers(key, competitor, check):
                applied += 1
                return e
        return None

    mine = {e.competitor: e for e in ours}
    refs = {e.competitor: e for e in reference}
    shared: Counter[int] = Counter(e.position for e in ours if e.position is not None)
    problems = []
    for competitor in sorted(mine.keys() | refs.keys()):
        entry, ref = mine.get(competitor), refs.get(competitor)
        expected_points = ref.points if ref else 0.0
        if (fix := erratum(competitor, "points")) is not None:
            expected_points = float(fix.fia_value)
        if entry is None:
            listed = ref is not None and (ref.position is not None or ref.points)
            if (
                ref is not None
                and listed
                and ((fix := erratum(competitor, "listing")) is None or fix.fia_value != "unranked")
            ):
                shown = ref.label or ref.position
                problems.append(f"{competitor}: in the reference ({ref.points:g} points, {shown}), not computed")
            continue
        if abs(entry.points - expected_points) > 1e-6:
            problems.append(f"{competitor}: {entry.points:g} points, official {expected_points:g}")
        ref_ranked = ref is not None and ref.position is not None
        if (fix := erratum(competitor, "listing")) is not None:
            ref_ranked = fix.fia_value == "ranked"
        if entry.position is None or not ref_ranked:
            if (entry.position is not None) != ref_ranked:
                problems.append(
                    f"{competitor}: {'unranked' if entry.position is None else 'ranked'}, officially "
                    f"{'ranked' if ref_ranked else 'unranked'}"
                )
            continue
        if not (entry.points or expected_points):
            continue  # no points: the order check below
        expected_position = ref.position if ref else None
        if (fix := erratum(competitor, "position")) is not None:
            expected_position = int(fix.fia_value)
        lowest = entry.position + shared[entry.position] - 1
        if expected_position is None or not entry.position <= expected_position <= lowest:
            problems.append(f"{competitor}: position {entry.position}, official {expected_position}")
    problems += _order_problems(key, ours, refs, lambda c: erratum(c, "order") is not None)
    return problems, applied


def _order_problems(key: Key, ours: Sequence[Entry], refs: Mapping[str, Entry], waived: object) -> list[str]:
    """Entries without points ranked in both: our order (ties aside) must not contradict the reference's."""
    groups: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for entry in ours:
        ref = refs.get(entry.competitor)
        if entry.position is None or entry.points or ref is None or ref.position is None:
            continue
        if waived(entry.competitor):  # type: ignore[operator]
            continue
        groups[entry.position].append((ref.position, entry.competitor))
    problems = []
    ahead_max: tuple[int, str] | None = None
    for position in sorted(groups):
        group = groups[position]
        lowest = min(group)
        if ahead_max is not None and lowest[0] < ahead_max[0]:
            problems.append(f"{lowest[1]} (position {position}) is ahead of {ahead_max[1]} in the reference")
        highest = max(group)
        if ahead_max is None or highest[0] > ahead_max[0]:
            ahead_max = highest
    return problems


def verify(
    computed: Mapping[Key, Sequence[Entry]],
    oracle: Mapping[Key, Sequence[Entry]],
    errata: Sequence[Erratum],
    championship: str,
) -> Report:
    report = Report(championship)
    keys = sorted(k for k in oracle if k[0] == championship)
    last_round = {k[1]: k[2] for k in keys}
    for key in keys:
        ours = computed.get(key, [])
        report.rounds += 1
        final = last_round[key[1]] == key[2]
        report.finals += final
        if strict_equal(ours, oracle[key]):
            report.strict += 1
            report.finals_strict += final
        problems, applied = official_problems(key, ours, oracle[key], errata)
        report.errata_applied += applied
        if problems:
            report.problems[key] = problems
        else:
            report.official += 1
            report.finals_official += final
    report.not_in_reference = sum(1 for k in computed if k[0] == championship and k not in oracle)
    return report


def verify_warehouse(warehouse: Path, oracle_path: Path = ORACLE, errata_path: Path = ERRATA) -> dict[str, Report]:
    import duckdb

    oracle, errata = read_oracle(oracle_path), read_errata(errata_path)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {c: verify(computed_tables(con, c), oracle, errata, c) for c in CHAMPIONSHIPS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dbt_tests.standings_reference", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build-oracle", help="condense Ergast's standings CSVs into the test oracle")
    build.add_argument(
        "--ergast",
        type=Path,
        required=True,
        help="directory with races, drivers, constructors, driver_standings, constructor_standings CSVs",
    )
    build.add_argument("--out", type=Path, default=ORACLE)
    check = commands.add_parser("verify", help="compare a warehouse's standings marts with the oracle")
    check.add_argument("--warehouse", type=Path, required=True)
    check.add_argument("--show", type=int, default=20, help="rounds with problems to print per championship")
    args = parser.parse_args(argv)
    if args.command == "build-oracle":
        print(json.dumps({"rounds": build_oracle(args.ergast, args.out), "oracle": str(args.out)}))
        return 0
    reports = verify_warehouse(args.warehouse)
    print(json.dumps({c: r.as_dict() for c, r in reports.items()}, indent=2))
    for championship, report in reports.items():
        for key, problems in list(report.problems.items())[: args.show]:
            print(f"{championship} {key[1]} round {key[2]}: " + "; ".join(problems[:4]), file=sys.stderr)
    return 0 if all(r.official == r.rounds for r in reports.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
