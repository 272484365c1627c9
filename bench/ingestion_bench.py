"""Benchmark: bare FastF1 ``session.load()`` against the full ingestion of the same session.

For each session (from the shared offline cache) and each repetition, times

* bare: ``fastf1.get_session(...)`` + ``session.load(laps=True, telemetry=False, weather=True, messages=True)``
* ingestion: ``ingestion.ingest.ingest_session`` of the same session into in-process moto (schedule
  validation, the same FastF1 load, normalisation, Parquet uploads, manifest, DynamoDB records),

interleaved in alternating order so cache warmth is shared, and prints the medians (wall clock and process CPU time) and
their ratio (goal: <= 1.25).
Peak RSS is measured in a fresh subprocess per session and mode (``resource.getrusage``), for a
bare load and for one ingestion (goal: <= 256 MB).

    GPI_F1DATA_DIR=../shared/f1data PYTHONPATH=libs/f1common:services/ingestion \\
        python bench/ingestion_bench.py [--repeat 5] [--session 2023-01-R ...]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from io import StringIO
from pathlib import Path
from typing import Any

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # keep the report readable; EMF lines are captured
warnings.simplefilter("ignore", FutureWarning)

DEFAULT_SESSIONS = ["2023-01-R", "2023-03-R", "2024-18-R", "2025-04-R", "2018-04-R", "2025-06-Q"]
RSS_LIMIT_MB = 256
RATIO_GOAL = 1.25


def bench_settings(cache_dir: Path) -> Any:
    from f1common.settings import Settings

    settings = Settings(stage="bench", fastf1_cache_dir=cache_dir, fastf1_offline=True, aws_endpoint_url=None)
    if settings.f1data_dir is None or not (settings.f1data_dir / "fastf1-cache").is_dir():
        sys.exit("the shared F1 data is absent: set GPI_F1DATA_DIR to the directory holding fastf1-cache/")
    return settings


def bare_load(key: str, settings: Any) -> Any:
    import fastf1

    from f1common.fastf1_setup import configure_fastf1
    from f1common.sessions import SessionId

    configure_fastf1(settings)
    session_id = SessionId.parse(key)
    session = fastf1.get_session(session_id.season, session_id.round, session_id.session.fastf1_name)
    session.load(laps=True, telemetry=False, weather=True, messages=True)
    return session


@contextmanager
def moto_stack(settings: Any) -> Iterator[tuple[Any, Any]]:
    """A fresh in-process moto with the landing bucket and calendar table (not timed)."""
    import boto3
    from moto import mock_aws

    for name, value in (("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench")):
        os.environ.setdefault(name, value)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws():
        s3 = boto3.client("s3", region_name=settings.aws_region)
        dynamodb = boto3.client("dynamodb", region_name=settings.aws_region)
        s3.create_bucket(Bucket=settings.bucket, CreateBucketConfiguration={"LocationConstraint": settings.aws_region})
        dynamodb.create_table(
            TableName=settings.table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield s3, dynamodb


def ingest(key: str, settings: Any, s3: Any, dynamodb: Any) -> Any:
    from f1common.events import IngestionRequest, OutcomeStatus
    from f1common.sessions import SessionId
    from ingestion.ingest import ingest_session

    request = IngestionRequest.for_session(SessionId.parse(key), reason="manual")
    with redirect_stdout(StringIO()):  # EMF metric lines
        outcome = ingest_session(request, s3=s3, dynamodb_table_or_client=dynamodb, settings=settings)
    if outcome.status is not OutcomeStatus.INGESTED:
        raise RuntimeError(f"{key}: expected a new run, got {outcome.status.value}: {outcome.message}")
    return outcome


def timed(fn: Callable[[], Any]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process); CPU time is less disturbed by other load on the machine."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def time_bare(key: str, settings: Any) -> tuple[float, float, int]:
    gc.collect()  # both sides start from a collected heap (not timed)
    wall, cpu = timed(lambda: bare_load(key, settings))
    return wall, cpu, 0


def time_ingest(key: str, settings: Any) -> tuple[float, float, int]:
    """One ingestion into a fresh in-process moto (its set-up is not timed); returns the rows landed too."""
    with moto_stack(settings) as (s3, dynamodb):
        gc.collect()
        outcomes: list[Any] = []
        wall, cpu = timed(lambda: outcomes.append(ingest(key, settings, s3, dynamodb)))
        return wall, cpu, sum(outcomes[0].rows.values())


def child(mode: str, key: str, cache_dir: Path) -> None:
    """Runs one bare load or one ingestion and prints the process's peak RSS (MB) as JSON."""
    settings = bench_settings(cache_dir)
    if mode == "bare":
        bare_load(key, settings)
    else:
        with moto_stack(settings) as (s3, dynamodb):
            ingest(key, settings, s3, dynamodb)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"mode": mode, "session": key, "peak_rss_mb": round(peak_mb, 1)}))


def peak_rss(mode: str, key: str, cache_dir: Path) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--session", key, "--cache-dir", str(cache_dir)],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mb"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--session", action="append", help="session key, e.g. 2023-01-R (repeatable)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cache-dir", type=Path, help="writable FastF1 cache (default: a fresh temp copy)")
    parser.add_argument("--child", choices=["bare", "ingest"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    sessions = args.session or DEFAULT_SESSIONS
    if args.child:
        child(args.child, sessions[0], args.cache_dir)
        return 0
    if args.cache_dir is not None:
        return run(sessions, args.repeat, args.cache_dir)
    with tempfile.TemporaryDirectory(prefix="gpi-bench-") as tmp:
        return run(sessions, args.repeat, Path(tmp) / "cache")


def run(sessions: list[str], repeat: int, cache_dir: Path) -> int:
    # Peak RSS first, while this process is small: Linux carries ru_maxrss across fork/exec.
    settings = bench_settings(cache_dir)
    peaks = {key: (peak_rss("bare", key, cache_dir), peak_rss("ingest", key, cache_dir)) for key in sessions}

    print(f"sessions: {', '.join(sessions)}; {repeat} repetitions each, interleaved; FastF1 cache {cache_dir}")
    for key in sessions:  # warm-up: imports, first parse of each session
        bare_load(key, settings)
        with moto_stack(settings) as (s3, dynamodb):
            ingest(key, settings, s3, dynamodb)

    header = (
        f"{'session':<11} {'rows':>5} | {'bare s':>7} {'ingest s':>8} {'ratio':>5} | "
        f"{'bare cpu':>8} {'ingest cpu':>10} {'ratio':>5} | {'bare MB':>7} {'ingest MB':>9}"
    )
    print(header)
    print("-" * len(header))
    wall_ratios, cpu_ratios = [], []
    for key in sessions:
        bare_wall, bare_cpu, ingest_wall, ingest_cpu = [], [], [], []
        rows = 0
        for repetition in range(repeat):
            # Alternate the order so that neither side always runs right after the other.
            order = (time_bare, time_ingest) if repetition % 2 == 0 else (time_ingest, time_bare)
            for measure in order:
                wall, cpu, landed = measure(key, settings)
                if measure is time_bare:
                    bare_wall.append(wall)
                    bare_cpu.append(cpu)
                else:
                    ingest_wall.append(wall)
                    ingest_cpu.append(cpu)
                    rows = landed
        bw, iw = statistics.median(bare_wall), statistics.median(ingest_wall)
        bc, ic = statistics.median(bare_cpu), statistics.median(ingest_cpu)
        wall_ratios.append(iw / bw)
        cpu_ratios.append(ic / bc)
        bare_mb, ingest_mb = peaks[key]
        print(
            f"{key:<11} {rows:>5} | {bw:>7.3f} {iw:>8.3f} {iw / bw:>5.2f} | "
            f"{bc:>8.3f} {ic:>10.3f} {ic / bc:>5.2f} | {bare_mb:>7.1f} {ingest_mb:>9.1f}"
        )
    print("-" * len(header))
    wall_ratio, cpu_ratio = statistics.median(wall_ratios), statistics.median(cpu_ratios)
    peak = max(p[1] for p in peaks.values())
    print(f"median ratio ingestion/bare: wall {wall_ratio:.2f}, cpu {cpu_ratio:.2f} (goal <= {RATIO_GOAL})")
    print(f"peak RSS of one ingestion (in-process moto included): max {peak:.1f} MB (limit {RSS_LIMIT_MB} MB)")
    ok = wall_ratio <= RATIO_GOAL and peak <= RSS_LIMIT_MB
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
