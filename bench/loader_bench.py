"""Loader benchmark: files/s and rows/s into the DuckDB warehouse for the full shared dataset.

The landing zone is S3 on moto (in-process), filled before the clock starts with
- the whole Ergast dump (one run, every `ergast_*` dataset, produced with f1common), and
- every FastF1 session of the shared cache, landed by the ingestion service (`ingestion.ingest`) when it
  is importable (the output says whether it was).
Then `loader.loading.load_keys` processes every key (data files, then manifests, as the S3 notifications
would arrive) into a fresh DuckDB file; staging row counts are checked against the manifests. A second
pass (every file already loaded) measures the per-notification cost of duplicates.

Run from the repository root:

    GPI_F1DATA_DIR=../shared/f1data PYTHONPATH=libs/f1common:services/loader:services/ingestion \\
        python bench/loader_bench.py [--no-fastf1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from f1common.datasets import Source, dataset_spec
from f1common.ergast import ergast_files, read_ergast_csv
from f1common.layout import data_key, new_run_id
from f1common.manifest import Manifest, ManifestFile
from f1common.sessions import SessionId, SessionType
from f1common.settings import Settings
from f1common.tables import sha256, to_parquet_bytes
from loader.duckdb_warehouse import DuckDBWarehouse
from loader.loading import Outcome, load_keys

BUCKET = "gpi-bench-landing"
_TABLE_ROW = re.compile(r"^\|\s*(\d{4})\s*\|\s*(\d{1,2})\s*\|[^|]+\|\s*([A-Za-z ]+?)\s*\|\s*\d+\s*\|")


def land_ergast(s3: Any, ergast_dir: Path) -> Manifest:
    run_id = new_run_id()
    files = []
    for dataset, path in ergast_files(ergast_dir).items():
        table = read_ergast_csv(path, dataset)
        data = to_parquet_bytes(table)
        key = data_key(dataset, run_id)
        s3.put_object(Bucket=BUCKET, Key=key, Body=data)
        files.append(ManifestFile(dataset=dataset, key=key, rows=table.num_rows, bytes=len(data), sha256=sha256(data)))
    manifest = Manifest(
        run_id=run_id,
        source=Source.ERGAST,
        created_at=dt.datetime.now(dt.timezone.utc),
        producer="loader-bench",
        files=files,
    )
    s3.put_object(Bucket=BUCKET, Key=f"manifests/{run_id}.json", Body=manifest.to_json())
    return manifest


def shared_sessions(f1data: Path) -> list[SessionId]:
    """The sessions of the shared FastF1 cache, from the table in its README."""
    sessions = []
    for line in (f1data / "README.md").read_text().splitlines():
        if match := _TABLE_ROW.match(line):
            sessions.append(SessionId(season=int(match[1]), round=int(match[2]), session=SessionType.parse(match[3])))
    return sessions


def land_fastf1(s3: Any, settings: Settings) -> tuple[list[Manifest], list[str]]:
    from ingestion.ingest import land_session, load_fastf1_session
    from ingestion.normalize import DataNotAvailable, session_tables

    assert settings.f1data_dir is not None
    manifests, skipped = [], []
    for session_id in shared_sessions(settings.f1data_dir):
        try:
            tables = session_tables(load_fastf1_session(session_id, settings), session_id)
        except DataNotAvailable as exc:
            skipped.append(f"{session_id.key}: {exc}")
            continue
        manifests.append(
            land_session(tables, new_run_id(), s3=s3, bucket=BUCKET, created_at=dt.datetime.now(dt.timezone.utc))
        )
    return manifests, skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-fastf1", action="store_true", help="only the Ergast dump")
    args = parser.parse_args(argv)
    command = "PYTHONPATH=" + os.environ.get("PYTHONPATH", "") + " python " + " ".join(sys.argv)

    work = Path(tempfile.mkdtemp(prefix="gpi-loader-bench-"))
    settings = Settings(fastf1_cache_dir=work / "fastf1-cache")
    if settings.ergast_dir is None or settings.f1data_dir is None:
        print("shared F1 data not found: set GPI_F1DATA_DIR to the f1data directory", file=sys.stderr)
        return 2
    for var in ("AWS_ENDPOINT_URL", "GPI_AWS_ENDPOINT_URL"):
        os.environ.pop(var, None)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")

    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        manifests = [land_ergast(s3, settings.ergast_dir)]
        fastf1_note = "FastF1 sessions: skipped (--no-fastf1)"
        if not args.no_fastf1:
            try:
                import ingestion.ingest  # noqa: F401
            except ImportError as exc:
                fastf1_note = f"FastF1 sessions: not included, the ingestion service is not importable ({exc})"
            else:
                t0 = time.perf_counter()
                sessions, skipped = land_fastf1(s3, settings)
                manifests += sessions
                fastf1_note = (
                    f"FastF1 sessions: {len(sessions)} landed by ingestion.ingest.land_session in "
                    f"{time.perf_counter() - t0:.1f} s (not timed below)"
                )
                if skipped:
                    fastf1_note += f"; not available: {skipped}"

        data_keys = [f.key for m in manifests for f in m.files]
        keys = data_keys + [f"manifests/{m.run_id}.json" for m in manifests]
        expected_rows = sum(f.rows for m in manifests for f in m.files)
        with DuckDBWarehouse.open(work / "warehouse.duckdb") as warehouse:
            t0 = time.perf_counter()
            report = load_keys(keys, s3=s3, bucket=BUCKET, warehouse=warehouse)
            elapsed = time.perf_counter() - t0
            t1 = time.perf_counter()
            again = load_keys(keys, s3=s3, bucket=BUCKET, warehouse=warehouse)
            elapsed_again = time.perf_counter() - t1
            staged = sum(warehouse.staging_rows(dataset_spec(f.dataset), f.key) for m in manifests for f in m.files)

    loaded = report.keys(Outcome.LOADED)
    print(f"command: {command}")
    print(f"data: Ergast dump (1 run, {len(manifests[0].files)} datasets); {fastf1_note}")
    print(
        f"loaded {len(loaded)} files / {report.rows_loaded:,} rows from {len(keys)} notifications "
        f"in {elapsed:.2f} s: {len(loaded) / elapsed:.1f} files/s, {report.rows_loaded / elapsed:,.0f} rows/s"
    )
    print(f"outcomes: {report.counts}")
    print(f"staging rows {staged:,} == manifest rows {expected_rows:,}: {staged == expected_rows}")
    print(
        f"duplicate pass (all {len(keys)} keys again): {again.counts['skipped']} files skipped, "
        f"{again.rows_loaded} rows, {elapsed_again:.2f} s ({len(keys) / elapsed_again:.0f} notifications/s)"
    )
    return 0 if staged == expected_rows and len(loaded) == len(data_keys) and again.rows_loaded == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
