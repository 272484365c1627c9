"""Scale benchmark: how build and query costs grow with history (1x, 10x, 30x the cached FastF1 sessions).

In one run, on the embedded warehouse (DuckDB + dbt's duckdb target):

1. a base warehouse: the Ergast history, the season schedules and every session the offline FastF1 cache
   serves, landed by the ingestion service and loaded by the loader (the real pipeline, real data);
2. for each scale N, a copy of it in which the FastF1 sessions' staging rows and manifests are replicated
   until there are N times as many sessions (the sessions whose FastF1 data names every driver's and team's
   Ergast reference: the synthetic seasons have no Ergast entrants to identify the others by) under
   synthetic seasons (season + 100 * k, k = 1, 2, ..., dates + 100 * k years: beyond any real season, BENCHMARK
   DATA, in this benchmark's own temporary files, never in the demo warehouse), then
   - the full build (`dbt build --full-refresh` of every model and test),
   - a build with nothing new (the transformer's own selection: dbt is not started),
   - the build after one new session (2023-10-R, held out of the base and landed again: one new complete
     run of a real session): time, rows touched (rows the build wrote, from the facts' and marts' build
     ids), rows scanned (not reported by DuckDB: n/a),
   - the dashboard panel queries (every panel and variable of every dashboard, p50/p95).

Goals: the incremental build at 30x within 1.5x of its time at 1x; panel p95 <= 200 ms at 30x; the full
build linear in rows (time per million staged rows at 30x within 1.5x of 10x's).

    GPI_F1DATA_DIR=../shared/f1data \\
    PYTHONPATH=libs/f1common:services/scheduler:services/ingestion:services/loader:local:analytics:dashboards \\
        python bench/scale_bench.py [--scales 1 10 30] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bench_report import header, quiet, say
from f1common.warehouse import STAGING_SCHEMA

warnings.simplefilter("ignore", FutureWarning)

COMMAND = (
    "GPI_F1DATA_DIR=../shared/f1data PYTHONPATH=libs/f1common:services/scheduler:services/ingestion:"
    "services/loader:local:analytics:dashboards python bench/scale_bench.py"
)
# replica k of season S is season S + 100 * k (beyond any real season, LAST_SEASON), and its dates and times move
# by 100 * k years: a replica's rounds never fall on a real round's day (a driver's team stints are keyed by the
# day they start) and stay within the dates Python and DuckDB read (year 9999)
SEASON_STRIDE = 100
S = STAGING_SCHEMA
SESSION_TABLES = ("laps_staging", "results_staging", "drivers_info_staging", "weather_staging",
                  "race_control_staging")  # fmt: skip
NEW_SESSION = "2023-10-R"  # held out of the base, landed again as the new session
TOUCHED = ("stg_fastf1__laps", "stg_fastf1__results", "stg_fastf1__drivers", "stg_fastf1__weather",
           "stg_fastf1__race_control", "fct_laps", "fct_weather", "fct_race_control", "fct_race_results",
           "fct_pit_stops", "mart_positions_by_lap", "mart_lap_weather", "mart_session_pace_weather",
           "mart_pace_changes")  # fmt: skip


def build_base(path: Path, work: Path) -> None:
    from f1common.settings import Settings
    from grandprix_local.harness import cached_sessions, embedded_stack

    sessions = [s.key for s in cached_sessions(Settings())]
    say(f"base: landing and loading {len(sessions)} cached sessions + Ergast + schedules through the pipeline ...")
    started = time.perf_counter()
    with quiet(), embedded_stack(work, in_process=True, notifications=False) as landing:
        landing.land_ergast()
        landing.land_schedules(int(s[:4]) for s in sessions)
        for session in sessions:
            landing.land_session(session)
        files, rows = landing.load_new_files()
        shutil.copyfile(landing.path, path)
    say(f"base: {files} files, {rows:,} rows in {time.perf_counter() - started:.0f} s")


def add_exported_tables(path: Path) -> None:
    """The tables the services export for the pipeline-health dashboard, which its panels read (empty here: no race
    calendar, no load-health check)."""
    import duckdb

    from f1common.warehouse import load_health_ddl, race_calendar_ddl

    with duckdb.connect(str(path)) as con:
        for ddl in (race_calendar_ddl("duckdb"), load_health_ddl("duckdb")):
            con.execute(ddl)


def _new_run_sql(run_id: str, k: str, kind: int = 0) -> str:
    """A distinct run id of the same shape: the last 8 hex digits replaced by the kind and replica number."""
    return f"substr({run_id}, 1, 17) || lpad(printf('%x', {k} + {kind * 0x10000000}), 8, '0')"


def _shifted_times(con: Any, table: str) -> str:
    """The replace-list items that move a replica's dates and timestamps by its seasons' stride (not the
    bookkeeping columns, `_load_time` and the like, which say when the copy was loaded)."""
    columns = con.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
        "and (data_type = 'DATE' or data_type like 'TIMESTAMP%') and column_name not like '\\_%' escape '\\'",
        [STAGING_SCHEMA, table],
    ).fetchall()
    return "".join(f"{name} + to_years({SEASON_STRIDE} * k) as {name}, " for (name,) in columns)


def replicate(path: Path, scale: int) -> dict[int, int]:
    """Copies every FastF1 session run (staging rows + manifest) to scale-1 synthetic seasons; returns each
    synthetic season's real one."""
    import duckdb

    from f1common.sessions import LAST_SEASON

    if scale <= 1:
        return {}
    with duckdb.connect(str(path)) as con:
        # sessions whose FastF1 data names every driver and team (Ergast refs) and places every car: the
        # synthetic seasons have no Ergast entrants or results to identify and order the others by, so their
        # tests would fail (and a failing test skips everything downstream of it in `dbt build`)
        con.execute(
            f"""
            create temp table replicated_runs as
            select _run_id from {S}.drivers_info_staging group by _run_id
            having count(*) = count(nullif(driver_id, '')) and count(*) = count(nullif(team_id, ''))
            intersect
            select _run_id from {S}.results_staging group by _run_id
            having count(*) = count(nullif(driver_id, '')) and count(*) = count(nullif(team_id, ''))
                and count(*) = count(position)"""
        )
        [(sessions,)] = con.execute(f"select count(*) from {S}.load_manifests where session is not null").fetchall()
        [(eligible,)] = con.execute("select count(*) from replicated_runs").fetchall()
        copies = max(1, round((scale - 1) * sessions / eligible))  # scale x the sessions in all
        con.execute(f"create temp table replicas as select range as k from range(1, {copies + 1})")
        for table in SESSION_TABLES:
            con.execute(
                f"""
                insert into {S}.{table}
                select original.* replace (
                    {_shifted_times(con, table)}season + {SEASON_STRIDE} * k as season,
                    replace(replace(_file_name, _run_id, {_new_run_sql('_run_id', 'k')}),
                            'season=' || season, 'season=' || (season + {SEASON_STRIDE} * k)) as _file_name,
                    {_new_run_sql('_run_id', 'k')} as _run_id)
                from {S}.{table} as original cross join replicas
                where season <= {LAST_SEASON} and _run_id in (select _run_id from replicated_runs)"""
            )
        con.execute(
            f"""
            insert into {S}.load_manifests
            select original.* replace (
                {_new_run_sql('run_id', 'k')} as run_id,
                season + {SEASON_STRIDE} * k as season,
                replace(replace(cast(files as varchar), run_id, {_new_run_sql('run_id', 'k')}),
                        'season=' || season, 'season=' || (season + {SEASON_STRIDE} * k))::json as files,
                replace(manifest_key, run_id, {_new_run_sql('run_id', 'k')}) as manifest_key)
            from {S}.load_manifests as original cross join replicas
            where session is not null and season <= {LAST_SEASON}
                and run_id in (select _run_id from replicated_runs)"""
        )
        synthetic = con.execute(
            f"""
            select distinct season + {SEASON_STRIDE} * k, season from {S}.results_staging cross join replicas
            where season <= {LAST_SEASON} and _run_id in (select _run_id from replicated_runs)"""
        ).fetchall()
        # each synthetic season gets its real season's schedule (event names), as its own schedule run
        con.execute(
            f"""
            insert into {S}.schedule_staging
            select original.* replace (
                {_shifted_times(con, 'schedule_staging')}season + {SEASON_STRIDE} * k as season,
                replace(replace(_file_name, _run_id, {_new_run_sql('_run_id', 'k * 10000 + season', 1)}),
                        'season=' || season, 'season=' || (season + {SEASON_STRIDE} * k)) as _file_name,
                {_new_run_sql('_run_id', 'k * 10000 + season', 1)} as _run_id)
            from {S}.schedule_staging as original cross join replicas
            where season <= {LAST_SEASON}"""
        )
        schedule_run = _new_run_sql("run_id", "k * 10000 + schedule_season", 1)
        con.execute(
            rf"""
            insert into {S}.load_manifests
            select original.* exclude (schedule_season) replace (
                {schedule_run} as run_id,
                replace(replace(cast(files as varchar), run_id, {schedule_run}),
                        'season=' || schedule_season, 'season=' || (schedule_season + {SEASON_STRIDE} * k))::json
                    as files,
                replace(manifest_key, run_id, {schedule_run}) as manifest_key)
            from (select *, cast(regexp_extract(cast(files as varchar), 'season=(\d{{4}})', 1) as integer)
                      as schedule_season
                  from {S}.load_manifests
                  where session is null and cast(files as varchar) like '%dataset=schedule/%') as original
            cross join replicas"""
        )
    return {int(copy): int(real) for copy, real in synthetic}


def benchmark_project(root: Path, seasons: dict[int, int]) -> Path:
    """A copy of the dbt project in the benchmark's own directory whose championship regulations seed also
    holds each synthetic season, as a copy of its real season's rows (BENCHMARK DATA: the real project is
    untouched; without them the standings have no rules for those seasons and their tests fail)."""
    import csv

    from dbt_runner.contract import PROJECT_DIR

    project = root / "dbt-project"
    if project.exists():
        shutil.rmtree(project)
    shutil.copytree(PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    seed = project / "seeds" / "championship_regulations.csv"
    with seed.open(newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames or [], list(reader)
    by_season: dict[int, list[dict[str, str]]] = {}
    for row in rows:
        by_season.setdefault(int(row["season"]), []).append(row)
    with seed.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")  # the seed's own line ends
        for copy, real in sorted(seasons.items()):
            for row in by_season[real]:
                writer.writerow({**row, "season": str(copy), "source": f"benchmark copy of {real}"})
    return project


def hold_out(path: Path, session_key: str) -> None:
    """Takes one real session's run (staging rows + manifest) out of the warehouse, to land it again later."""
    import duckdb

    season, rnd, session = session_key.split("-")
    with duckdb.connect(str(path)) as con:
        [(run_id,)] = con.execute(
            f"select run_id from {S}.load_manifests where season = ? and round = ? and session = ?",
            [int(season), int(rnd), session],
        ).fetchall()
        con.execute("create schema bench_holdout")
        for table in (*SESSION_TABLES, "load_manifests"):
            column = "run_id" if table == "load_manifests" else "_run_id"
            con.execute(f"create table bench_holdout.{table} as select * from {S}.{table} where {column} = ?", [run_id])
            con.execute(f"delete from {S}.{table} where {column} = ?", [run_id])


def land_held_out(path: Path) -> None:
    """Lands the held-out session again: its files and its manifest, loaded now (one new complete run)."""
    import duckdb

    with duckdb.connect(str(path)) as con:
        for table in SESSION_TABLES:
            con.execute(f"insert into {S}.{table} select * replace (now() as _load_time) from bench_holdout.{table}")
        con.execute(
            f"insert into {S}.load_manifests select * replace (now() as loaded_at) " "from bench_holdout.load_manifests"
        )
        con.execute("drop schema bench_holdout cascade")


def staged_rows(path: Path) -> tuple[int, int]:
    """(rows in every staging table, FastF1 sessions) of the warehouse."""
    import duckdb

    from f1common.datasets import DATASETS

    with duckdb.connect(str(path), read_only=True) as con:
        counts = [
            con.execute(f"select count(*) from {S}.{s.staging_table.lower()}").fetchone() for s in DATASETS.values()
        ]
        rows = sum(int(c[0]) for c in counts if c)
        [(sessions,)] = con.execute(f"select count(*) from {S}.load_manifests where session is not null").fetchall()
    return int(rows), int(sessions)


def rows_touched(path: Path, invocation_id: str) -> int:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        counts = [
            con.execute(f"select count(*) from analytics.{t} where _dbt_invocation_id = ?", [invocation_id]).fetchone()
            for t in TOUCHED
        ]
    return sum(int(c[0]) for c in counts if c)


def slowest(run: Any, count: int = 5) -> str:
    """The `count` nodes of a dbt run that took longest, with their seconds, and the sum over all its nodes."""
    if run is None:
        return "(not run)"
    nodes = sorted(run.nodes, key=lambda n: n.execution_time_s, reverse=True)
    top = ", ".join(f"{n.unique_id.split('.')[2]} {n.execution_time_s:.1f} s" for n in nodes[:count])
    return f"{top}; all {len(nodes)} nodes {sum(n.execution_time_s for n in nodes):.1f} s of {run.elapsed_s:.1f} s"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def panel_timings(path: Path, repeat: int) -> tuple[float, float, int]:
    """p50 and p95 (ms) over every panel and variable query of every dashboard, and the query count."""
    from grandprix_dashboards.catalog import dashboards
    from grandprix_dashboards.query import Warehouse, resolve_variables, run_panel, variable_options

    every: list[float] = []
    count = 0
    with Warehouse(path) as wh:
        for spec in dashboards():
            values = resolve_variables(wh, spec)
            queries: list[Callable[[], object]] = [
                partial(variable_options, wh, spec, v, values) for v in spec.variables
            ]
            queries += [partial(run_panel, wh, spec, p, values) for p in spec.panels]
            for run in queries:
                count += 1
                run()  # warm-up
                for _ in range(repeat):
                    started = time.perf_counter()
                    run()
                    every.append((time.perf_counter() - started) * 1000)
    return statistics.median(every), percentile(every, 95), count


@dataclass
class Scale:
    scale: int
    staged_rows: int = 0
    sessions: int = 0
    full_s: float = 0.0
    nothing_new_s: float = 0.0
    incremental_s: float = 0.0
    published_s: float = 0.0
    tests_s: float = 0.0
    published_nodes: int = 0
    test_nodes: int = 0
    incremental_nodes: int = 0
    parsed: str = ""  # which of the build's dbt invocations parsed (a warm process parses none)
    touched: int = 0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    queries: int = 0


def measure(base: Path, root: Path, scale: int, repeat: int) -> Scale:
    from dbt_runner.selection import build_after_load

    result = Scale(scale)
    path, artifacts = root / f"x{scale}.duckdb", root / f"x{scale}-dbt"
    shutil.copyfile(base, path)
    add_exported_tables(path)
    hold_out(path, NEW_SESSION)
    project = benchmark_project(root, replicate(path, scale))
    result.staged_rows, result.sessions = staged_rows(path)
    say(f"\n{scale}x: {result.sessions} FastF1 sessions, {result.staged_rows:,} staged rows")

    # failing tests would be counted (and skip what is downstream of them): there should be none
    full = build_after_load(path, artifacts, full_refresh=True, project_dir=project, raise_on_failure=False)
    result.full_s = full.seconds
    failing = [n for n in (full.run.nodes if full.run else []) if n.status in ("fail", "error")]
    say(
        f"  full build:         {result.full_s:7.1f} s ({len(full.run.nodes) if full.run else 0} nodes, "
        f"{len(failing)} failing: {', '.join(sorted(n.unique_id.split('.')[2] for n in failing)) or 'none'})"
    )

    started = time.perf_counter()
    nothing = build_after_load(path, artifacts, project_dir=project)
    result.nothing_new_s = time.perf_counter() - started
    say(f"  nothing new:        {result.nothing_new_s:7.2f} s (dbt started: {nothing.run is not None})")

    land_held_out(path)
    new_key = NEW_SESSION
    started = time.perf_counter()
    incremental = build_after_load(path, artifacts, project_dir=project, raise_on_failure=False)
    result.incremental_s = time.perf_counter() - started
    assert incremental.run is not None and incremental.run.invocation_id
    result.published_nodes = len(incremental.run.nodes)
    result.test_nodes = len(incremental.tests.nodes) if incremental.tests else 0
    result.incremental_nodes = result.published_nodes + result.test_nodes
    result.published_s = incremental.published_s
    result.tests_s = incremental.tests.elapsed_s if incremental.tests else 0.0
    runs = [("publish", incremental.run), ("tests", incremental.tests)]
    result.parsed = ", ".join(name for name, run in runs if run is not None and run.parsed) or "none"
    result.touched = rows_touched(path, incremental.run.invocation_id)
    scope = incremental.plan.test_sessions
    say(
        f"  after {new_key}:  {result.incremental_s:7.1f} s, marts fresh after {result.published_s:.1f} s "
        f"({result.published_nodes} nodes), tests {result.tests_s:.1f} s ({result.test_nodes} nodes, "
        f"on {'every row' if scope is None else ', '.join(scope) or 'no session'}); parsed: {result.parsed}; "
        f"{result.touched:,} fact/mart rows touched, rows scanned: n/a on DuckDB"
    )
    for name, run in runs:
        say(f"    slowest {name} nodes: {slowest(run)}")

    result.p50_ms, result.p95_ms, result.queries = panel_timings(path, repeat)
    say(f"  panel queries:      p50 {result.p50_ms:.1f} ms, p95 {result.p95_ms:.1f} ms ({result.queries} x {repeat})")
    path.unlink()
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10, 30])
    parser.add_argument("--repeat", type=int, default=10, help="runs of each panel query")
    parser.add_argument("--keep", type=Path, help="work directory to keep (the base warehouse is reused)")
    args = parser.parse_args(argv)

    header(COMMAND)
    root = args.keep or Path(tempfile.mkdtemp(prefix="gpi-scale-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        base = root / "base.duckdb"
        if not base.exists():
            build_base(base, root / "landing")
        results = [measure(base, root, scale, args.repeat) for scale in sorted(args.scales)]
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return report(results)


def report(results: list[Scale]) -> int:
    first, last = results[0], results[-1]
    say(
        "\nscale  sessions  staged rows   full build  s/M rows  nothing new  incremental (marts fresh)  touched"
        "  panel p50/p95"
    )
    for r in results:
        say(
            f"{r.scale:>4}x  {r.sessions:>8}  {r.staged_rows:>11,}  {r.full_s:9.1f} s  "
            f"{r.full_s / (r.staged_rows / 1e6):8.1f}  {r.nothing_new_s:9.2f} s  {r.incremental_s:9.1f} s "
            f"({r.published_s:5.1f} s)  {r.touched:>7,}  {r.p50_ms:5.1f} / {r.p95_ms:5.1f} ms"
        )
    incremental_ratio = last.incremental_s / first.incremental_s
    per_row = [r.full_s / r.staged_rows for r in results]
    linear = per_row[-1] / per_row[-2] if len(per_row) > 1 else 1.0
    checks = [
        (
            f"incremental build at {last.scale}x / at {first.scale}x",
            f"{incremental_ratio:.2f}x",
            "<= 1.5x",
            incremental_ratio <= 1.5,
        ),
        (f"panel p95 at {last.scale}x", f"{last.p95_ms:.1f} ms", "<= 200 ms", last.p95_ms <= 200),
        (
            f"full build time per row, {last.scale}x / {results[-2].scale if len(results) > 1 else last.scale}x",
            f"{linear:.2f}x",
            "<= 1.5x (linear or better)",
            linear <= 1.5,
        ),
        (
            "build with nothing new (worst scale)",
            f"{max(r.nothing_new_s for r in results):.2f} s",
            "<= 5 s",
            max(r.nothing_new_s for r in results) <= 5,
        ),
    ]
    say("\ngoals (ratios measured side by side in this run)")
    for name, value, goal, ok in checks:
        say(f"  {'ok  ' if ok else 'MISS'} {name}: {value} (goal {goal})")
    return 0 if all(ok for *_, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
