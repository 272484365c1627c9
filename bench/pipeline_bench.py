"""Pipeline benchmark: freshness per new session, full cold replay, and a second run with nothing new.

In one run, on the embedded stack (moto server + DuckDB + dbt, `grandprix_local`):

(b) cold replay: `run_local` with a fresh state directory over every session the offline FastF1 cache
    serves (plus the Ergast history and `dbt build`), with its time per stage (goal: <= 120 s on 2 cores);
(c) second run: `run_local` again on the same state directory, nothing new;
(a) freshness: on a separate small warehouse (baseline: one session), each new session is replayed by
    the scheduler's dispatcher on the simulated clock; the time from the dispatcher firing the ingestion
    to the session's rows being queryable in `analytics.fct_laps` (ingestion -> S3 -> SQS -> loader ->
    staging -> incremental `dbt run --select +fct_laps`) is measured per session (goal: <= 20 s), and
    then the rest of the incremental `dbt build` (all marts and tests) that the demo runs.

    GPI_F1DATA_DIR=../shared/f1data \\
    PYTHONPATH=libs/f1common:services/scheduler:services/ingestion:services/loader:local:analytics:dashboards \\
        python bench/pipeline_bench.py [--sessions KEY ...] [--new 2023-03-R 2025-01-R ...] [--dashboards]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

warnings.simplefilter("ignore", FutureWarning)

COMMAND = (
    "GPI_F1DATA_DIR=../shared/f1data PYTHONPATH=libs/f1common:services/scheduler:services/ingestion:"
    "services/loader:local:analytics:dashboards python bench/pipeline_bench.py"
)
BASELINE = ["2023-01-R"]
NEW_SESSIONS = ["2023-03-R", "2025-01-R", "2025-02-R"]  # different weekends, in time order


def say(line: str) -> None:
    print(line, file=sys.__stdout__, flush=True)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """The services' JSON logs and EMF metric lines (stdout in Lambda) are kept out of the report."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def run(state: Path, sessions: Sequence[Any] | None, *, dashboards: bool, label: str) -> Any:
    from grandprix_local.run import RunOptions, run_local

    options = RunOptions(state_dir=state, sessions=sessions, dashboards=dashboards)
    with quiet():
        summary = run_local(options, progress=lambda line: None)
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
    full_build_s: float = 0.0

    def span(self, a: str, b: str) -> float:
        return self.marks[b] - self.marks[a]


def freshness(state: Path, new: Sequence[str]) -> list[Freshness]:
    """Replays each new session on a warehouse holding BASELINE (built first, not timed)."""
    import duckdb
    from dbt_runner.runner import PROJECT_DIR, run_dbt

    import ingestion.handler
    from f1common.sessions import SessionId
    from grandprix_local.harness import embedded_stack
    from grandprix_local.state import restore_state, save_state

    run(state, [SessionId.parse(k) for k in BASELINE], dashboards=False, label=f"(a) baseline {BASELINE}")
    warehouse, artifacts = state / "warehouse.duckdb", state / "dbt"
    real_handler = ingestion.handler.handler
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
                run_dbt(["run", "--select", "+fct_laps", "--quiet"], project_dir=PROJECT_DIR,
                        warehouse_path=warehouse, artifacts_dir=artifacts)
                con = duckdb.connect(str(warehouse), read_only=True)
                try:
                    row = con.execute(
                        "select count(*) from analytics.fct_laps where session_key = ?", [result.session]
                    ).fetchone()
                finally:
                    con.close()
                result.fct_laps_rows = int(row[0]) if row else 0
                result.marks["facts"] = time.perf_counter()
                started = time.perf_counter()
                run_dbt(["build", "--quiet"], project_dir=PROJECT_DIR, warehouse_path=warehouse,
                        artifacts_dir=artifacts)
                result.full_build_s = time.perf_counter() - started

            ingestion.handler.handler = timed  # type: ignore[assignment]
            try:
                pipeline.replay([SessionId.parse(key)], after_each=after_ingestion)
            finally:
                ingestion.handler.handler = real_handler
        save_state(settings, state / "aws")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", nargs="*", help="cold replay of these sessions (default: all the cache serves)")
    parser.add_argument("--new", nargs="*", default=NEW_SESSIONS, help="sessions of the freshness measurement")
    parser.add_argument("--dashboards", action="store_true", help="include the dashboards stage in the runs")
    parser.add_argument("--keep", type=Path, help="keep the state directories under this directory")
    args = parser.parse_args(argv)

    from f1common.settings import Settings

    if Settings().f1data_dir is None:
        raise SystemExit("the shared F1 data is needed: set GPI_F1DATA_DIR to the f1data directory")
    say(f"reproduce: {COMMAND}{' ' + ' '.join(sys.argv[1:]) if sys.argv[1:] else ''}")
    say(f"machine: {os.cpu_count()} CPUs; load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    root = args.keep or Path(tempfile.mkdtemp(prefix="gpi-pipeline-bench-"))
    try:
        return _bench(args, root)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


def _bench(args: argparse.Namespace, root: Path) -> int:
    from f1common.sessions import SessionId

    sessions = [SessionId.parse(k) for k in args.sessions] if args.sessions else None

    cold = run(root / "full", sessions, dashboards=args.dashboards, label="(b) cold replay, fresh state directory")
    second = run(root / "full", sessions, dashboards=args.dashboards, label="(c) second run, nothing new")
    fresh = freshness(root / "freshness", args.new) if args.new else []

    say("\n(a) freshness: dispatcher firing -> rows queryable in analytics.fct_laps (goal <= 20 s)")
    say(f"  {'session':<10} {'ingest':>7} {'load':>6} {'dbt':>6} {'total':>7} {'fct_laps':>9}   "
        "then the full incremental dbt build (all marts + tests): its time, firing -> done")
    for f in fresh:
        if "facts" not in f.marks:
            say(f"  {f.session:<10} not ingested (marks: {sorted(f.marks)})")
            continue
        say(
            f"  {f.session:<10} {f.span('fired', 'landed'):6.1f}s {f.span('landed', 'staged'):5.1f}s "
            f"{f.span('staged', 'facts'):5.1f}s {f.span('fired', 'facts'):6.1f}s {f.fct_laps_rows:>9}   "
            f"{f.full_build_s:.1f} s, {f.span('fired', 'facts') + f.full_build_s:.1f} s"
        )

    say("\nsummary")
    say(f"  (b) cold replay of {cold.sessions_requested} sessions: {cold.total_seconds:.1f} s (goal <= 120 s)")
    say(f"  (c) second run, nothing new: {second.total_seconds:.1f} s "
        f"({len(second.replay.ingested)} ingested, {second.replay.files_loaded} files loaded)")
    totals = [f.span("fired", "facts") for f in fresh if "facts" in f.marks]
    if totals:
        say(f"  (a) freshness: max {max(totals):.1f} s over {len(totals)} sessions (goal <= 20 s)")
    if args.keep:
        say(f"  state directories: {root}")
    failed = sorted({*cold.replay.not_available} - {*cold.replay.ingested})
    if failed:
        say(f"  not ingested in the cold replay (no lap data in the offline cache): {len(failed)}: {', '.join(failed)}")
    ok = cold.ok and second.ok and len(totals) == len(fresh) and all(f.fct_laps_rows > 0 for f in fresh)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

