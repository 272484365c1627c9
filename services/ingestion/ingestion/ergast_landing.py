"""Historical backfill: lands the Ergast/Jolpica dump (CSV) as Parquet datasets with one manifest.

Idempotent by content: the run's ``source_version`` is the sha256 of the dump's files, and a marker
object ``markers/ergast/<source_version>.json`` is written after the manifest. When the marker (or a
manifest of the same version, should the marker be lost) exists, nothing is landed.

    python -m ingestion.ergast_landing --dump DIR    # DIR: the shared ergast/ or a downloaded dump
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from f1common import metrics as metric
from f1common.clients import aws_client
from f1common.clock import Clock, utc_now
from f1common.datasets import ERGAST_DATASETS, Dataset, Source
from f1common.ergast import ergast_files, read_ergast_csv
from f1common.layout import MANIFEST_PREFIX, data_key, new_run_id
from f1common.manifest import Manifest
from f1common.names import SERVICE_INGESTION
from f1common.settings import Settings
from ingestion.landing import get_json, list_keys, put_json, put_manifest, put_table
from ingestion.observability import emit_rows, emit_seconds, logger

MARKER_PREFIX = "markers/ergast/"
Progress = Callable[[str], None]


@dataclass(frozen=True)
class BackfillResult:
    source_version: str
    run_id: str | None  # None when the same dump was already landed
    rows: dict[str, int] = field(default_factory=dict)
    skipped: bool = False
    existing_run_id: str | None = None


def dump_version(files: dict[Dataset, Path]) -> str:
    """sha256 over the dump files' names and contents (in dataset order): the dump's identity."""
    digest = hashlib.sha256()
    for dataset in sorted(files, key=lambda d: d.value):
        path = files[dataset]
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def marker_key(source_version: str) -> str:
    return f"{MARKER_PREFIX}{source_version}.json"


def find_landed(s3: Any, bucket: str, source_version: str) -> str | None:
    """Run id of an earlier backfill of the same dump: from its marker, else by scanning manifests."""
    marker = get_json(s3, bucket, marker_key(source_version))
    if isinstance(marker, dict) and marker.get("run_id"):
        return str(marker["run_id"])
    for key in list_keys(s3, bucket, MANIFEST_PREFIX):
        manifest = Manifest.from_json(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        if manifest.source is Source.ERGAST and manifest.source_version == source_version:
            _put_marker(s3, bucket, source_version, manifest.run_id)
            return manifest.run_id
    return None


def land_ergast(
    dump_dir: Path,
    *,
    s3: Any,
    settings: Settings,
    progress: Progress = lambda line: print(line, file=sys.stderr),
    clock: Clock = utc_now,
) -> BackfillResult:
    """Lands every Ergast dataset of the dump under the layout (partition NONE), then the manifest."""
    started = time.perf_counter()
    files = ergast_files(Path(dump_dir))
    version = dump_version(files)
    existing = find_landed(s3, settings.bucket, version)
    if existing is not None:
        progress(f"ergast dump {version[:12]} already landed by run {existing}: nothing to do")
        logger.info("ergast backfill skipped", extra={"source_version": version, "run_id": existing})
        return BackfillResult(source_version=version, run_id=None, skipped=True, existing_run_id=existing)

    run_id = new_run_id(clock())
    logger.info("ergast backfill started", extra={"source_version": version, "run_id": run_id})
    entries = []
    for i, dataset in enumerate(ERGAST_DATASETS, start=1):
        table = read_ergast_csv(files[dataset], dataset)
        entry = put_table(s3, settings.bucket, data_key(dataset, run_id), dataset, table)
        entries.append(entry)
        progress(f"[{i}/{len(ERGAST_DATASETS)}] {dataset.value}: {entry.rows:,} rows, {entry.bytes:,} bytes")
        del table
    manifest = Manifest(
        run_id=run_id,
        source=Source.ERGAST,
        created_at=clock(),
        producer=SERVICE_INGESTION,
        source_version=version,
        files=entries,
    )
    put_manifest(s3, settings.bucket, manifest)
    _put_marker(s3, settings.bucket, version, run_id)
    duration = time.perf_counter() - started
    progress(f"ergast backfill {run_id}: {sum(manifest.rows.values()):,} rows in {len(entries)} files, {duration:.1f}s")
    emit_rows(manifest.rows, source=Source.ERGAST.value)
    emit_seconds(metric.BACKFILL_DURATION, duration)
    logger.info("ergast backfill complete", extra={"run_id": run_id, "rows": manifest.rows, "duration_s": duration})
    return BackfillResult(source_version=version, run_id=run_id, rows=manifest.rows)


def _put_marker(s3: Any, bucket: str, source_version: str, run_id: str) -> None:
    body = {"source": Source.ERGAST.value, "source_version": source_version, "run_id": run_id}
    put_json(s3, bucket, marker_key(source_version), body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingestion.ergast_landing", description=__doc__.splitlines()[0])
    parser.add_argument("--dump", type=Path, help="Ergast dump directory (default: the shared f1data/ergast)")
    args = parser.parse_args(argv)
    settings = Settings()
    dump = args.dump or settings.ergast_dir
    if dump is None:
        parser.error("--dump: no Ergast dump given and none found in the settings (GPI_F1DATA_DIR)")
    if not dump.is_dir():
        parser.error(f"--dump: {dump} is not a directory")
    result = land_ergast(dump, s3=aws_client("s3", settings), settings=settings)
    print(json.dumps({"run_id": result.run_id, "skipped": result.skipped, "rows": result.rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
