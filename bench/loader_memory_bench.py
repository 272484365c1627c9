"""Loader memory benchmark: the peak RSS of loading one laps file, against the file's size (10k to 2M rows).

The laps of a real race (2023 Bahrain from the shared FastF1 cache, normalised by the ingestion service) are
repeated to N rows (lap numbers continue, so rows stay distinct) and written as the ingestion writes a file
(`f1common.tables.to_parquet_bytes`), with its manifest. Each size is loaded in a process of its own by the
loader (`loader.loading.load_keys` into a fresh DuckDB file) from a local-file stand-in for S3 (the body is
read from disk, as S3's streams from the network), so that the RSS is the loader's. The peak is reset
(`/proc/self/clear_refs`) just before the load. Printed per size: rows, file MB, the largest row group
uncompressed (MB), the RSS before, the peak during the load and the growth, and the growth as a multiple of
the file and of the largest row group (issue 14's goal: growth <= 3x the largest row group).

With ``--baseline REV`` each file is also loaded, in the same run and on the same files, by the loader package
(``services/loader/loader``) of git revision REV (e.g. the last one that read whole objects), so that before and
after are measured side by side.

Run from the repository root:

    ./pants run bench/loader_memory_bench.py [-- --rows 10000 100000 500000 2000000] [--baseline 037f880]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from f1common.datasets import Dataset, Source
from f1common.layout import data_key, manifest_key, new_run_id
from f1common.manifest import Manifest, ManifestFile
from f1common.sessions import SessionId
from f1common.settings import Settings
from f1common.tables import sha256, to_parquet_bytes

SESSION = SessionId.parse("2023-01-R")
SIZES = (10_000, 100_000, 500_000, 2_000_000)
MB = 1024 * 1024


class LocalS3:
    """`get_object` over a directory: the loader's only S3 call, with S3's NoSuchKey shape."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:  # boto3 names
        path = self.root / Key
        if not path.is_file():
            error = FileNotFoundError(Key)
            error.response = {"Error": {"Code": "NoSuchKey"}}  # type: ignore[attr-defined]
            raise error
        return {"Body": path.open("rb")}


def real_laps(settings: Settings) -> pa.Table:
    from ingestion.ingest import load_fastf1_session
    from ingestion.normalize import session_tables

    return session_tables(load_fastf1_session(SESSION, settings), SESSION).tables[Dataset.LAPS]


def repeated(laps: pa.Table, rows: int) -> pa.Table:
    """`laps` repeated to `rows` rows, each copy's lap numbers after the previous copy's."""
    step = pc.max(laps["lap_number"]).as_py()
    copies, index = [], laps.schema.get_field_index("lap_number")
    for k in range(-(-rows // laps.num_rows)):
        shifted = pc.add(laps["lap_number"], pa.scalar(k * step, laps.schema.field(index).type))
        copies.append(laps.set_column(index, laps.schema.field(index), shifted))
    return pa.concat_tables(copies).slice(0, rows).combine_chunks()


def land(root: Path, table: pa.Table) -> tuple[str, ManifestFile]:
    run_id = new_run_id()
    key = data_key(Dataset.LAPS, run_id, session=SESSION)
    data = to_parquet_bytes(table)
    (root / key).parent.mkdir(parents=True, exist_ok=True)
    (root / key).write_bytes(data)
    entry = ManifestFile(dataset=Dataset.LAPS, key=key, rows=table.num_rows, bytes=len(data), sha256=sha256(data))
    manifest = Manifest(
        run_id=run_id,
        source=Source.FASTF1,
        session=SESSION,
        created_at=dt.datetime.now(dt.UTC),
        producer="loader-memory-bench",
        files=[entry],
    )
    (root / manifest_key(run_id)).parent.mkdir(parents=True, exist_ok=True)
    (root / manifest_key(run_id)).write_bytes(manifest.to_json())
    return manifest_key(run_id), entry


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


def baseline_path(rev: str, work: Path) -> str:
    """A PYTHONPATH whose `loader` package is the one of git revision `rev` (the rest as this process's)."""
    target = work / f"loader-{rev}"
    target.mkdir()
    archive = subprocess.run(["git", "archive", rev, "services/loader/loader"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return os.pathsep.join([str(target / "services" / "loader"), *sys.path])


def child(root: Path, key: str, warehouse: Path) -> int:
    """One load in this process; prints RSS before, peak during, and the outcome as JSON."""
    from loader.duckdb_warehouse import DuckDBWarehouse
    from loader.loading import Outcome, load_keys

    with DuckDBWarehouse.open(warehouse) as wh:
        before = _status_mb("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) restarts from the current RSS
        report = load_keys([key], s3=LocalS3(root), bucket="local", warehouse=wh)
        peak = _status_mb("VmHWM")
    print(
        json.dumps({"before": before, "peak": peak, "loaded": report.keys(Outcome.LOADED), "rows": report.rows_loaded})
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=list(SIZES), help="laps rows per file")
    parser.add_argument("--baseline", metavar="REV", help="also load each file with the loader of this git revision")
    parser.add_argument("--child", nargs=3, metavar=("ROOT", "KEY", "WAREHOUSE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(Path(args.child[0]), args.child[1], Path(args.child[2]))
    extra = list(sys.argv[1:] if argv is None else argv)
    command = "./pants run bench/loader_memory_bench.py" + (" -- " + " ".join(extra) if extra else "")

    work = Path(tempfile.mkdtemp(prefix="gpi-loader-memory-"))
    settings = Settings(fastf1_cache_dir=work / "fastf1-cache")
    if settings.f1data_dir is None:
        print("shared F1 data not found: set GPI_F1DATA_DIR to the f1data directory", file=sys.stderr)
        return 2
    laps = real_laps(settings)
    print(f"command: {command}")
    real_kb = len(to_parquet_bytes(laps)) / 1024
    print(
        f"data: {SESSION.key} laps ({laps.num_rows} rows, {laps.num_columns} columns, {real_kb:.0f} KB as a file) "
        "repeated to each size (repeated rows compress far better than real ones: 'x file' is overstated)"
    )
    loaders = {"current": os.pathsep.join(sys.path)}
    if args.baseline:
        loaders = {args.baseline: baseline_path(args.baseline, work), **loaders}
    print(
        f"{'loader':>8} {'rows':>10} {'file MB':>8} {'row group MB':>12} {'RSS before':>10} {'peak':>8} "
        f"{'growth':>8} {'x file':>7} {'x row group':>11}"
    )
    ok = True
    for rows in args.rows:
        root = work / f"s3-{rows}"
        key, entry = land(root, repeated(laps, rows))
        path = root / entry.key
        parquet = pq.ParquetFile(path)  # the largest row group as Arrow holds it (decoded)
        group = max(parquet.read_row_group(i).nbytes for i in range(parquet.metadata.num_row_groups)) / MB
        for name, pythonpath in loaders.items():
            env = {
                **os.environ,
                "PYTHONPATH": pythonpath,
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": "WARNING",
            }
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(root), key, str(work / f"warehouse-{rows}-{name}.duckdb")],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            ok = ok and result["loaded"] == [entry.key] and result["rows"] == rows
            growth, size = result["peak"] - result["before"], entry.bytes / MB
            print(
                f"{name[:8]:>8} {rows:>10,} {size:>8.1f} {group:>12.1f} {result['before']:>10.0f} "
                f"{result['peak']:>8.0f} {growth:>8.0f} {growth / size:>7.1f} {growth / group:>11.1f}",
                flush=True,
            )
        path.unlink()
    print(
        "MB; row group: the largest, decoded (Arrow nbytes); RSS: VmRSS before the load, VmHWM during it; "
        "growth = peak - before"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
