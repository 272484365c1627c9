"""Pipeline benchmark: freshness per new session, full cold replay, and a second run with nothing new.

In one run, on the embedded stack (moto server + DuckDB + dbt, `grandprix_local`):

(b) cold replay: `run_local` with a fresh state directory over every session the offline FastF1 cache
    serves (plus the Ergast history, landed on one of the ingestion's workers alongside the replay, and
    `dbt build`), with its time per stage (goal: <= 60 s on 2 cores, issue 18); and, side by side in the same
    run, the bare FastF1 loads of the sessions it ingested (a fresh copy of the cache, one after the other): the
    replay stage against their sum (goal: <= 0.7x; the local dispatcher runs due ingestions concurrently, up to
    the number of cores, on worker processes started ahead, the longest first). The machine's speed drifts within
    a minute, so the pair is measured `--pairs` times (default 3; the later replays without dbt, on fresh state
    directories, the pairs' order alternating: replay then loads, loads then replay) and the goal is the median
    ratio. Two figures say why a ratio is missed: where the first replay stage's core-seconds went (`cpu_split`:
    the ingestion workers, this process's embedded stack, other processes, idle), and the same bare loads split
    over one process per core at once, the floor of any replay on these cores. The mean bare load by session
    type is printed too: the dispatcher's cost estimates (`grandprix_local.pipeline.SESSION_COST`) come from it;
(c) second run: `run_local` again on the same state directory, nothing new;
(a) freshness: on a separate small warehouse (baseline: one session), each new session is replayed by
    the scheduler's dispatcher on the simulated clock; the time from the dispatcher firing the ingestion
    to the session being in every dashboard mart (ingestion -> S3 -> SQS -> loader -> staging; the landed
    manifest -> EventBridge rule -> transformer queue -> the transformer's handler, delivered by the embedded
    stack's trigger: the build of what is downstream of the changed datasets) is measured per session
    (goal: <= 10 s); then
(d) a burst: ten more sessions land before the transformer queue is delivered (within one batching window
    in the cloud): the number of dbt builds they cause, and the time from the last landing to fresh marts.

    ./pants run bench/pipeline_bench.py -- [--sessions KEY ...] [--new ...]   or, outside Pants:
    GPI_F1DATA_DIR=../shared/f1data \\
    PYTHONPATH=libs/f1common:services/scheduler:services/ingestion:services/loader:services/transformer:\\
    local:analytics:dashboards python bench/pipeline_bench.py \\
        [--sessions KEY ...] [--new 2023-03-R 2025-01-R ...] [--dashboards] [--pairs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_report import header, quiet, say
from cpu_split import Snapshot, Split, snapshot, split

warnings.simplefilter("ignore", FutureWarning)

COMMAND = (
    "GPI_F1DATA_DIR=../shared/f1data PYTHONPATH=libs/f1common:services/scheduler:services/ingestion:"
    "services/loader:services/transformer:local:analytics:dashboards python bench/pipeline_bench.py"
)
BASELINE = ["2023-01-R"]
NEW_SESSIONS = ["2023-03-R", "2025-01-R", "2025-02-R"]  # different weekends, in time order


def run(
    state: Path,
    sessions: Sequence[Any] | None,
    *,
    dashboards: bool,
    label: str,
    replay_cpu: list[Split] | None = None,
    dbt: bool = True,
) -> Any:
    """One `run_local`, its stages printed; `replay_cpu` gets where the replay stage's core-seconds went."""
    from grandprix_local.run import RunOptions, run_local

    marks: list[Snapshot | None] = []

    def progress(line: str) -> None:  # the stage timer's lines: "==> replay: ..." then "    replay: ...: 25.2 s"
        if line.lstrip().startswith(("==> replay:", "replay:")):
            marks.append(snapshot())

    options = RunOptions(state_dir=state, sessions=sessions, dashboards=dashboards, dbt=dbt)
    with quiet():
        summary = run_local(options, progress=progress)
    if replay_cpu is not None and len(marks) == 2 and marks[0] is not None and marks[1] is not None:
        replay_cpu.append(split(marks[0], marks[1]))
    replay = summary.replay
    say(f"\n{label}: {summary.total_seconds:.1f} s total ({'ok' if summary.ok else 'FAILED'})")
    say(
        f"  {summary.sessions_requested} sessions requested, {len(replay.ingested)} ingested, "
        f"{replay.firings} schedules fired, {replay.files_loaded} files / {replay.rows_loaded} rows loaded, "
        f"{replay.quarantined} quarantined, dbt {summary.dbt}"
    )
    for stage, seconds in summary.seconds.items():
        say(f"  {seconds:7.1f} s  {stage}")
    return summary


@dataclass
class Freshness:
    session: str
    marks: dict[str, float] = field(default_factory=dict)
    fct_laps_rows: int = 0
    marts_fresh: bool = False
    build_nodes: int = 0
    tests_s: float = 0.0

    def span(self, a: str, b: str) -> float:
        return self.marks[b] - self.marks[a]


def freshness(state: Path, new: Sequence[str]) -> tuple[list[Freshness], Burst | None]:
    """Replays each new session on a warehouse holding BASELINE (built first, not timed)."""
    import duckdb

    import grandprix_local.stack
    import ingestion.handler
    from f1common.sessions import SessionId
    from grandprix_local.harness import embedded_stack
    from grandprix_local.state import restore_state, save_state

    run(state, [SessionId.parse(k) for k in BASELINE], dashboards=False, label=f"(a) baseline {BASELINE}")
    warehouse = state / "warehouse.duckdb"
    real_handler = ingestion.handler.handler
    real_is_a_server = grandprix_local.stack.moto_is_a_server
    results: list[Freshness] = []
    with quiet(), embedded_stack(state, notifications=False) as stack:
        settings, pipeline = stack.settings, stack.pipeline
        restore_state(settings, state / "aws")
        pipeline.enable_notifications()
        pipeline.sync_calendar([SessionId.parse(k) for k in [*BASELINE, *new]])
        for key in new:
            result = Freshness(key)
            results.append(result)

            def timed(event: dict[str, Any], context: Any, marks: dict[str, float] = result.marks) -> Any:
                marks["fired"] = time.perf_counter()
                outcome = real_handler(event, context)
                marks["landed"] = time.perf_counter()
                return outcome

            def after_ingestion(result: Freshness = result) -> None:
                pipeline.drain_loader()
                result.marks["staged"] = time.perf_counter()
                pipeline.last_transform = None
                pipeline.deliver_transformer_queue()  # the trigger path: landed manifest -> transformer
                last = pipeline.last_transform
                if last is None or last.build is None:  # nothing landed (the offline cache cannot serve it)
                    return  # reported as not ingested
                built = last.build
                result.build_nodes = len(built.run.nodes) if built.run else 0
                # the marts are fresh when the publishing run ends; the tests run after it
                result.tests_s = built.tests.elapsed_s if built.tests else 0.0
                result.marks["marts"] = time.perf_counter() - result.tests_s
                season, rnd, session = result.session.split("-")
                con = duckdb.connect(str(warehouse), read_only=True)
                try:
                    row = con.execute(
                        "select count(*) from analytics.fct_laps where session_key = ?", [result.session]
                    ).fetchone()
                    marts = [
                        con.execute(
                            f"select count(*) from analytics.{mart} where season = ? and round = ? " "and session = ?",
                            [int(season), int(rnd), session],
                        ).fetchone()
                        for mart in ("mart_positions_by_lap", "mart_lap_weather", "mart_session_pace_weather")
                    ]
                    standings = con.execute(
                        "select count(*) from analytics.mart_driver_standings " "where season = ? and round = ?",
                        [int(season), int(rnd)],
                    ).fetchone()
                finally:
                    con.close()
                result.fct_laps_rows = int(row[0]) if row else 0
                result.marts_fresh = all(m and m[0] > 0 for m in [*marts, standings])

            # one session at a time, its ingestion timed in this process: the dispatcher's thread workers (the
            # wrapper cannot go to a worker process; with one session there is nothing to run side by side)
            ingestion.handler.handler = timed  # type: ignore[assignment]
            grandprix_local.stack.moto_is_a_server = lambda: False  # type: ignore[assignment]
            try:
                pipeline.replay([SessionId.parse(key)], after_each=after_ingestion)
            finally:
                ingestion.handler.handler = real_handler
                grandprix_local.stack.moto_is_a_server = real_is_a_server  # type: ignore[assignment]
        burst_result = burst(pipeline, settings, warehouse) if BURST_SIZE else None
        save_state(settings, state / "aws")
    return results, burst_result


BURST_SIZE = 10


@dataclass
class Burst:
    sessions: list[str]
    messages: int = 0
    builds: int = 0  # transformer runs that started dbt
    dbt_invocations: int = 0  # each build: the publishing run, then the tests
    last_landed_to_marts_s: float = 0.0
    marts_fresh: bool = False


def burst(pipeline: Any, settings: Any, warehouse: Path) -> Burst:
    """BURST_SIZE further sessions land, then the transformer queue is delivered until it is empty."""
    import duckdb

    from f1common.sessions import SessionId
    from grandprix_local.offline_catalogue import offline_sessions

    taken = {*BASELINE, *NEW_SESSIONS}
    keys = [s.key for s in offline_sessions(settings) if s.key not in taken][:BURST_SIZE]
    sessions = [SessionId.parse(k) for k in keys]
    result = Burst(keys)
    pipeline.sync_calendar(sessions)
    pipeline.replay(sessions, after_each=pipeline.drain_loader)
    landed = time.perf_counter()
    while (delivery := pipeline.deliver_transformer_queue()).batches:
        result.messages += delivery.messages
        build = pipeline.last_transform.build
        if build is not None and build.run is not None:
            result.builds += 1
            result.dbt_invocations += 1 + (build.tests is not None)
            result.last_landed_to_marts_s = time.perf_counter() - landed - (build.tests.elapsed_s if build.tests else 0)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        counts = [
            con.execute("select count(*) from analytics.fct_laps where session_key = ?", [k]).fetchone() for k in keys
        ]
    finally:
        con.close()
    result.marts_fresh = all(c and c[0] > 0 for c in counts)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", nargs="*", help="cold replay of these sessions (default: all the cache serves)")
    parser.add_argument("--new", nargs="*", default=NEW_SESSIONS, help="sessions of the freshness measurement")
    parser.add_argument("--dashboards", action="store_true", help="include the dashboards stage in the runs")
    parser.add_argument("--keep", type=Path, help="keep the state directories under this directory")
    parser.add_argument(
        "--pairs",
        type=int,
        default=3,
        help="replay stage / bare loads pairs measured, alternating (the median is the goal)",
    )
    args = parser.parse_args(argv)

    header(COMMAND)
    root = args.keep or Path(tempfile.mkdtemp(prefix="gpi-pipeline-bench-"))
    try:
        return _bench(args, root)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class BareLoads:
    wall: float
    cpu: float
    each: dict[str, float]  # session key -> wall-clock seconds of its load


def bare_loads(cache: Path, keys: Sequence[str]) -> BareLoads:
    """The bare FastF1 loads of `keys`, one after the other, on a fresh copy of the shared cache (made, and FastF1
    imported, before the clock starts)."""
    from ingestion_bench import bare_load

    from f1common.fastf1_setup import configure_fastf1
    from f1common.settings import Settings

    settings = Settings(fastf1_cache_dir=cache, fastf1_offline=True)
    with quiet():
        configure_fastf1(settings)
    each: dict[str, float] = {}
    started, cpu = time.perf_counter(), time.process_time()
    with quiet():
        for key in keys:
            began = time.perf_counter()
            bare_load(key, settings)
            each[key] = time.perf_counter() - began
    return BareLoads(time.perf_counter() - started, time.process_time() - cpu, each)


def replay_seconds(summary: Any) -> float:
    """The replay stage's seconds in a `run_local` summary."""
    return next(v for k, v in summary.seconds.items() if k.startswith("replay"))


def mean_load_by_type(runs: Sequence[dict[str, float]]) -> dict[str, tuple[float, int]]:
    """Session type -> (the mean of its sessions' bare loads, each session's load averaged over `runs` first; the
    number of sessions), the longest first."""
    sessions: dict[str, list[float]] = {}
    for each in runs:
        for key, seconds in each.items():
            sessions.setdefault(key, []).append(seconds)
    types: dict[str, list[float]] = {}
    for key, loads in sessions.items():
        types.setdefault(key.rsplit("-", 1)[-1], []).append(statistics.mean(loads))
    means = {t: (statistics.mean(v), len(v)) for t, v in types.items()}
    return dict(sorted(means.items(), key=lambda item: (-item[1][0], item[0])))


def split_by_cost(each: dict[str, float], parts: int) -> list[list[str]]:
    """The keys in `parts` groups of about equal cost: the longest first, each onto the least loaded group."""
    groups: list[list[str]] = [[] for _ in range(parts)]
    costs = [0.0] * parts
    for key in sorted(each, key=lambda k: (-each[k], k)):
        least = costs.index(min(costs))
        groups[least].append(key)
        costs[least] += each[key]
    return [g for g in groups if g]


def parallel_bare_loads(root: Path, groups: Sequence[Sequence[str]]) -> tuple[float, float]:
    """Seconds (wall clock, then the processes' CPU) of the bare loads with each group in a process of its own, all
    at once: what the replay's cores could do with no pipeline around the loads. Each process has imported FastF1 and
    made its own cache copy before the clock starts (an empty group of loads), as the replay's workers have."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    caches = [root / f"bare-fastf1-cache-{i}" for i in range(len(groups))]
    pools = [ProcessPoolExecutor(max_workers=1, mp_context=context) for _ in groups]
    try:
        for ready in [pool.submit(bare_loads, cache, []) for pool, cache in zip(pools, caches, strict=True)]:
            ready.result()
        started = time.perf_counter()
        runs = [pool.submit(bare_loads, cache, group) for pool, cache, group in zip(pools, caches, groups, strict=True)]
        cpu = sum(run.result().cpu for run in runs)
        return time.perf_counter() - started, cpu
    finally:
        for pool in pools:
            pool.shutdown()


def _bench(args: argparse.Namespace, root: Path) -> int:
    from f1common.sessions import SessionId

    sessions = [SessionId.parse(k) for k in args.sessions] if args.sessions else None

    replay_cpu: list[Split] = []
    cold = run(
        root / "full",
        sessions,
        dashboards=args.dashboards,
        label="(b) cold replay, fresh state directory",
        replay_cpu=replay_cpu,
    )
    ingested = sorted(set(cold.replay.ingested))
    replay_s = replay_seconds(cold)
    bare = bare_loads(root / "bare-fastf1-cache", ingested)
    bare_s, bare_cpu = bare.wall, bare.cpu
    say(
        f"  replay stage {replay_s:.1f} s vs bare FastF1 loads of the same {len(ingested)} sessions {bare_s:.1f} s: "
        f"{replay_s / bare_s:.2f}x (goal <= 0.7x; {os.cpu_count()} cores)"
    )
    ratios, each = [replay_s / bare_s], [bare.each]
    groups = split_by_cost(bare.each, os.cpu_count() or 1)
    if len(groups) > 1:
        at_once, at_once_cpu = parallel_bare_loads(root, groups)
        say(
            f"  the same bare loads split over {len(groups)} processes at once: {at_once:.1f} s, "
            f"{at_once / bare_s:.2f}x: the floor of any replay on these cores (their CPU {at_once_cpu:.1f} s, "
            f"{at_once_cpu / bare_cpu:.2f}x the serial loads')"
        )
    if replay_cpu:
        used = replay_cpu[0]
        say(f"  where the replay stage's core-seconds went: {used.line('embedded stack', 'ingestion workers')}")
        say(
            f"    the embedded stack is this process: the emulated AWS (moto server), the loader and the dispatcher; "
            f"ingestion workers / bare loads' CPU ({bare_cpu:.1f} s): {used.children / bare_cpu:.2f}x; "
            f"(workers + embedded stack) / cores / bare loads' wall clock: "
            f"{(used.children + used.own) / used.cores / bare_s:.2f}x, the ratio with no core ever idle"
        )
    replays_ok = True
    for pair in range(2, args.pairs + 1):  # alternating: loads then replay, replay then loads, ...
        state, cache = root / f"replay-{pair}", root / f"bare-fastf1-cache-{pair}"
        loads_first = pair % 2 == 0
        before = bare_loads(cache, ingested) if loads_first else None
        again = run(
            state, sessions, dashboards=False, dbt=False, label=f"(b) pair {pair}: replay, fresh state directory"
        )
        loads = before if before is not None else bare_loads(cache, ingested)
        replays_ok = replays_ok and again.ok and sorted(set(again.replay.ingested)) == ingested
        again_s = replay_seconds(again)
        ratios.append(again_s / loads.wall)
        each.append(loads.each)
        order = "bare loads, then replay" if loads_first else "replay, then bare loads"
        say(
            f"  pair {pair} ({order}): replay stage {again_s:.1f} s vs bare FastF1 loads "
            f"{loads.wall:.1f} s: {ratios[-1]:.2f}x"
        )
        for directory in (state, cache):
            shutil.rmtree(directory, ignore_errors=True)
    ratio = statistics.median(ratios)
    say(
        f"  replay stage / bare FastF1 loads over {len(ratios)} pair(s): median {ratio:.2f}x "
        f"(min {min(ratios):.2f}x, max {max(ratios):.2f}x; goal <= 0.7x)"
    )
    types = mean_load_by_type(each)
    race = types.get("R", (0.0, 0))[0]
    say(
        "  mean bare load by session type (sessions; relative to a race x 4, as the dispatcher's SESSION_COST): "
        + ", ".join(
            f"{t} {mean:.2f} s ({n}{f'; {4 * mean / race:.1f}' if race else ''})" for t, (mean, n) in types.items()
        )
    )
    second = run(root / "full", sessions, dashboards=args.dashboards, label="(c) second run, nothing new")
    fresh: list[Freshness] = []
    bursted: Burst | None = None
    if args.new:
        fresh, bursted = freshness(root / "freshness", args.new)

    say("\n(a) freshness: dispatcher firing -> the session in every dashboard mart (goal <= 10 s)")
    say(
        f"  {'session':<10} {'ingest':>7} {'load':>6} {'dbt':>6} {'total':>7} {'fct_laps':>9} {'nodes':>6}  marts"
        "   then the tests of what changed"
    )
    for f in fresh:
        if "marts" not in f.marks:
            say(f"  {f.session:<10} not ingested (marks: {sorted(f.marks)})")
            continue
        say(
            f"  {f.session:<10} {f.span('fired', 'landed'):6.1f}s {f.span('landed', 'staged'):5.1f}s "
            f"{f.span('staged', 'marts'):5.1f}s {f.span('fired', 'marts'):6.1f}s {f.fct_laps_rows:>9} "
            f"{f.build_nodes:>6}  {'fresh' if f.marts_fresh else 'STALE'}   {f.tests_s:.1f} s"
        )

    say("\nsummary")
    say(
        f"  (b) cold replay of {cold.sessions_requested} sessions: {cold.total_seconds:.1f} s (goal <= 60 s); "
        f"replay stage / bare FastF1 loads, the median of {len(ratios)} pair(s): {ratio:.2f}x (goal <= 0.7x)"
    )
    say(
        f"  (c) second run, nothing new: {second.total_seconds:.1f} s "
        f"({len(second.replay.ingested)} ingested, {second.replay.files_loaded} files loaded)"
    )
    totals = [f.span("fired", "marts") for f in fresh if "marts" in f.marks]
    if totals:
        say(
            f"  (a) freshness, schedule fired -> every dashboard mart fresh: max {max(totals):.1f} s over "
            f"{len(totals)} sessions (goal <= 10 s)"
        )
    dbt_second = second.seconds.get("transformer queue -> transformer (dbt, local target)")
    if dbt_second is not None:
        say(f"  (c) its transformer run with nothing new: {dbt_second:.2f} s (goal <= 5 s)")
    if bursted is not None:
        say(
            f"  (d) burst of {len(bursted.sessions)} sessions: {bursted.messages} messages, {bursted.builds} dbt "
            f"build(s) ({bursted.dbt_invocations} dbt invocations), last landing -> marts fresh "
            f"{bursted.last_landed_to_marts_s:.1f} s, {'fresh' if bursted.marts_fresh else 'STALE'}"
        )
    if args.keep:
        say(f"  state directories: {root}")
    failed = sorted({*cold.replay.not_available} - {*cold.replay.ingested})
    if failed:
        say(f"  not ingested in the cold replay (no lap data in the offline cache): {len(failed)}: {', '.join(failed)}")
    ok = (
        cold.ok
        and replays_ok
        and second.ok
        and len(totals) == len(fresh)
        and all(f.fct_laps_rows > 0 and f.marts_fresh for f in fresh)
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
