"""Loader benchmark: files/s and rows/s into the DuckDB warehouse for the full shared dataset.

The landing zone is S3 on moto (in-process), filled before the clock starts by the ingestion service:
- the whole Ergast dump (`ingestion.ergast_landing.land_ergast`: one run, every `ergast_*` dataset), and
- every FastF1 session the shared cache serves (`grandprix_local.offline_catalogue.offline_sessions`).
Then `loader.loading.load_keys` processes every key (data files, then manifests, as the S3 notifications
would arrive) into a fresh DuckDB file; staging row counts are checked against the manifests. A second
pass (every file already loaded) measures the per-notification cost of duplicates.

Run from the repository root:

    ./pants run bench/loader_bench.py [-- --no-fastf1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from f1common.datasets import dataset_spec
from f1common.layout import manifest_key, new_run_id
from f1common.manifest import Manifest
from f1common.settings import Settings
from grandprix_local.offline_catalogue import offline_sessions
from loader.duckdb_warehouse import DuckDBWarehouse
from loader.loading import Outcome, load_keys


def land_ergast(s3: Any, settings: Settings) -> Manifest:
    from ingestion.ergast_landing import land_ergast as backfill

    assert settings.ergast_dir is not None
    result = backfill(settings.ergast_dir, s3=s3, settings=settings, progress=lambda line: None)
    assert result.run_id is not None, "a fresh bucket cannot already hold the dump"
    body = s3.get_object(Bucket=settings.bucket, Key=manifest_key(result.run_id))["Body"].read()
    return Manifest.from_json(body)


def land_fastf1(s3: Any, settings: Settings) -> tuple[list[Manifest], list[str]]:
    from ingestion.ingest import land_session, load_fastf1_session
    from ingestion.normalize import DataNotAvailable, session_tables

    assert settings.f1data_dir is not None
    manifests, skipped = [], []
    for session_id in offline_sessions(settings):
        try:
            tables = session_tables(load_fastf1_session(session_id, settings), session_id)
        except DataNotAvailable as exc:
            skipped.append(f"{session_id.key}: {exc}")
            continue
        manifests.append(
            land_session(
                tables, new_run_id(), s3=s3, bucket=settings.bucket, created_at=dt.datetime.now(dt.timezone.utc)
            )
        )
    return manifests, skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-fastf1", action="store_true", help="only the Ergast dump")
    args = parser.parse_args(argv)
    extra = list(sys.argv[1:] if argv is None else argv)
    command = "./pants run bench/loader_bench.py" + (" -- " + " ".join(extra) if extra else "")

    work = Path(tempfile.mkdtemp(prefix="gpi-loader-bench-"))
    settings = Settings(fastf1_cache_dir=work / "fastf1-cache")
    if settings.ergast_dir is None or settings.f1data_dir is None:
        print("shared F1 data not found: set GPI_F1DATA_DIR to the f1data directory", file=sys.stderr)
        return 2
    for var in ("AWS_ENDPOINT_URL", "GPI_AWS_ENDPOINT_URL"):
        os.environ.pop(var, None)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # no EMF lines in the report

    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(Bucket=settings.bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        manifests = [land_ergast(s3, settings)]
        fastf1_note = "FastF1 sessions: skipped (--no-fastf1)"
        if not args.no_fastf1:
            t0 = time.perf_counter()
            sessions, skipped = land_fastf1(s3, settings)
            manifests += sessions
            fastf1_note = (
                f"FastF1 sessions: {len(sessions)} landed by the ingestion service in "
                f"{time.perf_counter() - t0:.1f} s (not timed below)"
            )
            if skipped:
                fastf1_note += f"; not available: {skipped}"

        data_keys = [f.key for m in manifests for f in m.files]
        keys = data_keys + [f"manifests/{m.run_id}.json" for m in manifests]
        expected_rows = sum(f.rows for m in manifests for f in m.files)
        with DuckDBWarehouse.open(work / "warehouse.duckdb") as warehouse:
            t0 = time.perf_counter()
            report = load_keys(keys, s3=s3, bucket=settings.bucket, warehouse=warehouse)
            elapsed = time.perf_counter() - t0
            t1 = time.perf_counter()
            again = load_keys(keys, s3=s3, bucket=settings.bucket, warehouse=warehouse)
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
