"""Snowpipe semantics over any warehouse: manifests gate files, a path loads once, bad files are quarantined.

For each created key (from S3 event notifications, in any order, possibly repeated):

- a manifest (`manifests/<run_id>.json`) loads every file it lists that is not loaded yet;
- a data file loads only when its run's manifest exists and lists it; before that it is recorded as
  pending (`load_pending`) and loaded when the manifest's own notification arrives;
- a file already in `load_history` (or `load_quarantine`) is skipped, so duplicate messages and replays
  add no rows; the warehouse claims a file in the transaction that loads it (check-and-claim, per file), so
  concurrent deliveries of one file load it once and the losers skip it;
- a file is checked against its manifest entry (size, sha256, Parquet, row count, schema) before any row
  is written; a refused file goes to `load_quarantine` with the reason and the others carry on;
- extra columns (additive drift) are added to the staging table as nullable columns and loaded; every column
  name of a file must be a safe identifier (:func:`f1common.warehouse.check_identifier`), else the file is
  quarantined;
- a manifest whose body names another run than its key is refused (quarantined), and so are its run's files;
- a key off the landing layout is recorded in `load_quarantine` and reported as ignored.

Each key, and each entry of a manifest, succeeds, waits or is quarantined on its own: an unexpected error
(S3 or the warehouse unavailable) on one does not stop the others, and is raised after them
(:class:`LoadIncomplete`, with the report of what was done) so that the message is retried.
The warehouse loads one file in one transaction, together with its `load_history` row.

Memory stays bounded whatever a file's size: a data file is streamed from S3 to a local file (its size and sha256
computed on the way) and read from there in record batches of :data:`BATCH_ROWS` rows (:class:`LandedFile`),
for the checks and for the load alike; a whole object or table is never held.
"""

from __future__ import annotations

import hashlib
import tempfile
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing, suppress
from dataclasses import dataclass, field
from enum import Enum
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import ValidationError

from f1common.datasets import ColumnType, DatasetSpec, dataset_spec
from f1common.errors import bounded, shorten
from f1common.layout import is_manifest_key, manifest_key, parse_data_key, parse_manifest_key
from f1common.manifest import Manifest, ManifestFile
from f1common.names import SERVICE_LOADER
from f1common.observability import child_logger
from f1common.tables import schema_diff
from f1common.warehouse import (
    LOAD_HISTORY,
    LOAD_MANIFESTS,
    LOAD_QUARANTINE,
    METADATA_COLUMNS,
    ROW_NUMBER,
    Dialect,
    StagingColumn,
    UnsafeIdentifier,
    check_identifier,
    column_type,
)

logger = child_logger(SERVICE_LOADER)

BATCH_ROWS = 64 * 1024  # rows per record batch read from a landed file: what bounds the loader's memory
_CHUNK = 1024 * 1024  # bytes per read of an S3 body, and of a Parquet column chunk (buffered, not read whole)


# How much of the error that refused a file its quarantine row keeps (then the error's full length), however
# long the error: each message is bounded where it is raised, and this bounds any that is not.
REASON_LIMIT = 1000


class FileRejected(ValueError):
    """A file cannot be loaded as it is; the message says why. The file is quarantined."""


class AlreadyProcessed(Exception):
    """The warehouse found the file loaded or quarantined when it came to claim it (a concurrent delivery won)."""

    def __init__(self, key: str, state: str) -> None:
        super().__init__(f"{key} is already {state.lower()}")
        self.state = state


class Outcome(str, Enum):
    LOADED = "loaded"
    SKIPPED = "skipped"  # already loaded or already quarantined
    PENDING = "pending"  # waiting for its manifest, or listed in a manifest but not present yet
    QUARANTINED = "quarantined"
    IGNORED = "ignored"  # not a landing-zone key


@dataclass(frozen=True)
class FileResult:
    key: str
    outcome: Outcome
    rows: int = 0
    detail: str = ""


@dataclass
class LoadReport:
    results: list[FileResult] = field(default_factory=list)
    malformed_records: int = 0  # notification records that named no object (counted by the consumer)

    def add(self, result: FileResult) -> None:
        self.results.append(result)
        log = logger.warning if result.outcome is Outcome.QUARANTINED else logger.info
        log(
            "file processed",
            extra={
                "key": bounded(result.key),
                "outcome": result.outcome.value,
                "rows": result.rows,
                "detail": bounded(result.detail),
            },
        )

    def extend(self, other: LoadReport) -> None:
        self.results.extend(other.results)
        self.malformed_records += other.malformed_records

    @property
    def counts(self) -> dict[str, int]:
        counter = Counter(r.outcome.value for r in self.results)
        return {o.value: counter.get(o.value, 0) for o in Outcome}

    @property
    def rows_loaded(self) -> int:
        return sum(r.rows for r in self.results if r.outcome is Outcome.LOADED)

    def keys(self, outcome: Outcome) -> list[str]:
        return [r.key for r in self.results if r.outcome is outcome]


@dataclass(frozen=True)
class Downloaded:
    """An S3 object streamed to a local file, with the size and sha256 of what was read."""

    path: Path
    bytes: int
    sha256: str


@dataclass(frozen=True)
class LandedFile:
    """A checked Parquet file on local disk, read in record batches of :data:`BATCH_ROWS` rows, never whole."""

    path: Path
    num_rows: int
    schema: pa.Schema

    def batches(self) -> Iterator[pa.RecordBatch]:
        # a buffered stream per column chunk: without it pyarrow reads a row group's column chunks whole
        with pq.ParquetFile(self.path, buffer_size=_CHUNK, pre_buffer=False) as parquet:
            yield from parquet.iter_batches(batch_size=BATCH_ROWS)

    def numbered(self) -> pa.RecordBatchReader:
        """The batches with :data:`ROW_NUMBER` appended (1-based, the row's position in the file), as a stream."""
        schema = self.schema.append(pa.field(ROW_NUMBER, pa.int64()))

        def numbered() -> Iterator[pa.RecordBatch]:
            start = 1
            for batch in self.batches():
                numbers = pa.array(range(start, start + batch.num_rows), pa.int64())
                yield pa.RecordBatch.from_arrays([*batch.columns, numbers], schema=schema)
                start += batch.num_rows

        return pa.RecordBatchReader.from_batches(schema, numbered())


class StagingWarehouse(Protocol):
    """What the Snowpipe semantics need from a warehouse (DuckDB locally, Snowflake in the cloud)."""

    dialect: Dialect

    def ensure_schema(self) -> None:
        ...

    def file_state(self, key: str) -> str | None:
        """'LOADED' or 'QUARANTINED' when the path was processed before, else None."""

    def load_file(
        self, spec: DatasetSpec, landed: LandedFile, *, key: str, run_id: str, new_columns: list[StagingColumn]
    ) -> int:
        """Claims the file, adds `new_columns`, inserts the rows (streamed from `landed`) with load metadata and
        records `load_history`, atomically.

        Returns the rows inserted; raises :class:`FileRejected` when the warehouse refuses the data and
        :class:`AlreadyProcessed` when the file was loaded or quarantined meanwhile (nothing is written).
        """

    def quarantine(self, key: str, *, run_id: str | None, dataset: str | None, error: str) -> None:
        """Records the file in `load_quarantine`; raises :class:`AlreadyProcessed` (writing nothing) when it was
        loaded or quarantined meanwhile."""

    def mark_pending(self, key: str, *, run_id: str, dataset: str, reason: str) -> None:
        ...

    def record_manifest(self, manifest: Manifest, *, key: str) -> None:
        """Records the manifest in ``load_manifests`` once (dbt derives the complete runs from it)."""

    def runs_without_manifest(self) -> list[str]:
        """Run ids with loaded or quarantined files and no ``load_manifests`` row."""


def runs_without_manifest_sql(schema: str) -> str:
    """The run ids of ``load_history`` and ``load_quarantine`` that ``load_manifests`` does not hold, sorted."""
    runs = " UNION ".join(
        f"SELECT run_id FROM {schema}.{table} WHERE run_id IS NOT NULL" for table in (LOAD_HISTORY, LOAD_QUARANTINE)
    )
    return (
        f"SELECT DISTINCT runs.run_id FROM ({runs}) AS runs WHERE NOT EXISTS "
        f"(SELECT 1 FROM {schema}.{LOAD_MANIFESTS} AS m WHERE m.run_id = runs.run_id) ORDER BY 1"
    )


_ARROW_TO_COLUMN: list[tuple[Any, ColumnType]] = [
    (pa.types.is_boolean, ColumnType.BOOL),
    (pa.types.is_integer, ColumnType.INT),
    (pa.types.is_floating, ColumnType.FLOAT),
    (lambda t: pa.types.is_string(t) or pa.types.is_large_string(t), ColumnType.STRING),
    (pa.types.is_timestamp, ColumnType.TIMESTAMP),
    (pa.types.is_date, ColumnType.DATE),
]


def _new_column(name: str, arrow_type: pa.DataType, dialect: Dialect) -> StagingColumn:
    for check, ctype in _ARROW_TO_COLUMN:
        if check(arrow_type):
            if ctype is ColumnType.TIMESTAMP and arrow_type.tz is None:
                raise FileRejected(f"new column {name!r} is a timestamp without time zone; landed timestamps are UTC")
            return StagingColumn(name, column_type(ctype, dialect), True)
    raise FileRejected(f"new column {name!r} has unsupported type {arrow_type}")


def check_file(downloaded: Downloaded, entry: ManifestFile, dialect: Dialect) -> tuple[LandedFile, list[StagingColumn]]:
    """Validates a downloaded file against its manifest entry and dataset schema, reading it batch by batch.

    Returns the file to load and the new (additive) columns to add; raises :class:`FileRejected` naming the problem.
    """
    spec = dataset_spec(entry.dataset)
    if downloaded.bytes != entry.bytes:
        raise FileRejected(f"file has {downloaded.bytes} bytes, manifest says {entry.bytes}")
    if downloaded.sha256 != entry.sha256:
        raise FileRejected(f"sha256 {downloaded.sha256} does not match the manifest's {entry.sha256}")
    try:
        with pq.ParquetFile(downloaded.path) as parquet:
            landed = LandedFile(downloaded.path, parquet.metadata.num_rows, parquet.schema_arrow)
    except (pa.ArrowException, OSError) as exc:
        raise FileRejected(f"not a readable Parquet file: {bounded(str(exc))}") from None
    if landed.num_rows != entry.rows:
        raise FileRejected(f"file has {landed.num_rows} rows, manifest says {entry.rows}")
    for name in landed.schema.names:  # before any name reaches SQL
        try:
            check_identifier(name)
        except UnsafeIdentifier as exc:
            raise FileRejected(f"column name refused: {exc}") from None
    diff = schema_diff(landed.schema, spec)
    if not diff.additive_only:
        raise FileRejected(f"schema drift in {spec.name}: {diff.describe()}")
    reserved = [name for name in diff.extra if name.lower() in METADATA_COLUMNS]
    if reserved:
        raise FileRejected(f"columns {reserved} are reserved for load metadata")
    new_columns = [_new_column(name, landed.schema.field(name).type, dialect) for name in diff.extra]
    not_nullable = [c.name for c in spec.columns() if not c.nullable]
    partition = parse_data_key(entry.key).partition_values
    nulls, strays = _scan(landed, not_nullable, partition)
    for name, count in nulls.items():
        if count:
            raise FileRejected(f"column {name!r} is not nullable but has {count} nulls")
    for name, count in strays.items():
        if count:
            raise FileRejected(f"{count} rows have a {name} other than their key's {partition[name]!r}")
    return landed, new_columns


def _scan(
    landed: LandedFile, not_nullable: list[str], partition: dict[str, int | str]
) -> tuple[dict[str, int], dict[str, int]]:
    """The nulls of `not_nullable` and the rows off `partition` (a column -> the value every row holds: a file
    holds the rows of its key's season, round and session only), read batch by batch; every page is decoded, so a
    file that is not readable to its end is refused here, before any row is written."""
    nulls, strays = dict.fromkeys(not_nullable, 0), dict.fromkeys(partition, 0)
    try:
        for batch in landed.batches():
            for name in not_nullable:
                nulls[name] += batch.column(name).null_count
            for name, value in partition.items():
                same = pc.sum(pc.equal(batch.column(name), value)).as_py() or 0  # null compares as not equal
                strays[name] += batch.num_rows - same
    except (pa.ArrowException, OSError) as exc:
        raise FileRejected(f"not a readable Parquet file: {bounded(str(exc))}") from None
    return nulls, strays


def _is_missing(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code")
    return code in ("NoSuchKey", "404", "NotFound")


def _body(s3: Any, bucket: str, key: str) -> Any:
    """The object's streaming body, or None when it does not exist (other S3 errors propagate and are retried)."""
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"]
    except Exception as exc:
        if _is_missing(exc):
            return None
        raise


def _get(s3: Any, bucket: str, key: str) -> bytes | None:
    """A small object's bytes (a manifest), or None when it does not exist."""
    body = _body(s3, bucket, key)
    return None if body is None else body.read()  # type: ignore[no-any-return]


def download(s3: Any, bucket: str, key: str, directory: Path) -> Downloaded | None:
    """Streams the object to a new file in `directory` in chunks of 1 MiB; None when it does not exist."""
    body = _body(s3, bucket, key)
    if body is None:
        return None
    digest, size = hashlib.sha256(), 0
    with closing(body), tempfile.NamedTemporaryFile(dir=directory, suffix=".parquet", delete=False) as out:
        for chunk in iter(partial(body.read, _CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return Downloaded(Path(out.name), size, digest.hexdigest())


class LoadIncomplete(RuntimeError):
    """Unexpected errors on some keys or manifest entries (retried with the message); `report` holds what the
    others did."""

    def __init__(self, report: LoadReport, failed: dict[str, str]) -> None:
        shown = "; ".join(f"{key}: {error}" for key, error in list(failed.items())[:3])
        super().__init__(f"{len(failed)} of the message's files failed and will be retried: {shown}")
        self.report, self.failed = report, failed


class _Loader:
    def __init__(
        self,
        s3: Any,
        bucket: str,
        warehouse: StagingWarehouse,
        work_dir: Path | None = None,
        manifests: dict[str, Manifest] | None = None,
    ) -> None:
        self.s3, self.bucket, self.warehouse = s3, bucket, warehouse
        self.work_dir = work_dir or Path(tempfile.gettempdir())  # where data files are downloaded, one at a time
        self.report = LoadReport()
        self.failed: dict[str, str] = {}  # key -> unexpected error, raised after the others (LoadIncomplete)
        self._manifests: dict[str, Manifest] = {} if manifests is None else manifests  # run id -> found manifest

    def isolated(self, key: str, step: Callable[[], None]) -> None:
        """Runs one key's (or one manifest entry's) step; an unexpected error is kept, and the others carry on."""
        try:
            step()
        except Exception as exc:
            logger.exception("file failed; it will be retried", extra={"key": bounded(key)})
            self.failed[key] = bounded(f"{type(exc).__name__}: {exc}")

    def manifest(self, run_id: str) -> Manifest | None:
        """The run's manifest, recorded in the warehouse when first found (a file's manifest event may be lost, so
        any of its keys records it; the cache holds recorded manifests only, so that a run's files record it once);
        raises FileRejected when it exists but is invalid or names another run."""
        if run_id not in self._manifests:  # only found manifests are cached: one may land during the batch
            data = _get(self.s3, self.bucket, manifest_key(run_id))
            if data is None:
                return None
            try:
                manifest = Manifest.from_json(data)
            except ValidationError as exc:
                raise FileRejected(f"invalid manifest {manifest_key(run_id)}: {bounded(str(exc))}") from None
            if manifest.run_id != run_id:
                raise FileRejected(f"manifest {manifest_key(run_id)} names another run: {manifest.run_id}")
            self.warehouse.record_manifest(manifest, key=manifest_key(run_id))
            self._manifests[run_id] = manifest
        return self._manifests[run_id]

    def key(self, key: str) -> None:
        if is_manifest_key(key):
            self.manifest_key(key)
        else:
            self.data_key(key)

    def manifest_key(self, key: str) -> None:
        run_id = parse_manifest_key(key)
        try:
            manifest = self.manifest(run_id)
        except FileRejected as exc:
            self.reject(key, run_id, None, str(exc))
            return
        if manifest is None:
            self.report.add(FileResult(key, Outcome.IGNORED, detail="manifest no longer exists"))
            return
        for entry in manifest.files:
            self.isolated(entry.key, partial(self.entry, entry, manifest))

    def data_key(self, key: str) -> None:
        try:
            landed = parse_data_key(key)
        except ValueError as exc:
            self.off_layout(key, str(exc))
            return
        state = self.warehouse.file_state(key)
        if state is not None:
            self.report.add(FileResult(key, Outcome.SKIPPED, detail=f"already {state.lower()}"))
            return
        try:
            manifest = self.manifest(landed.run_id)
        except FileRejected as exc:
            self.reject(key, landed.run_id, landed.dataset.value, f"its manifest is invalid: {exc}")
            return
        if manifest is None:
            reason = f"waiting for manifest {manifest_key(landed.run_id)}"
            self.warehouse.mark_pending(key, run_id=landed.run_id, dataset=landed.dataset.value, reason=reason)
            self.report.add(FileResult(key, Outcome.PENDING, detail=reason))
            return
        entry = manifest.file_for(key)
        if entry is None:
            self.reject(key, landed.run_id, landed.dataset.value, f"not listed in the manifest of run {landed.run_id}")
            return
        self.entry(entry, manifest, unsettled=True)

    def off_layout(self, key: str, error: str) -> None:
        """A key off the landing layout: recorded in the quarantine once, reported (and counted) as ignored."""
        if self.warehouse.file_state(key) is None:
            with suppress(AlreadyProcessed):  # recorded meanwhile by a concurrent delivery
                self.warehouse.quarantine(key, run_id=None, dataset=None, error=f"off the landing layout: {error}")
        self.report.add(FileResult(key, Outcome.IGNORED, detail=error))

    def reject(self, key: str, run_id: str | None, dataset: str | None, error: str) -> None:
        error = shorten(error, REASON_LIMIT)
        if self.warehouse.file_state(key) is not None:
            self.report.add(FileResult(key, Outcome.SKIPPED, detail="already quarantined"))
            return
        try:
            self.warehouse.quarantine(key, run_id=run_id, dataset=dataset, error=error)
        except AlreadyProcessed as exc:
            self.report.add(FileResult(key, Outcome.SKIPPED, detail=str(exc)))
            return
        self.report.add(FileResult(key, Outcome.QUARANTINED, detail=error))

    def entry(self, entry: ManifestFile, manifest: Manifest, *, unsettled: bool = False) -> None:
        """Loads one file of a complete run. `unsettled`: the caller has just found it neither loaded nor
        quarantined (not looked up again; the load's claim decides in its transaction either way)."""
        key, dataset = entry.key, entry.dataset.value
        state = None if unsettled else self.warehouse.file_state(key)
        if state is not None:
            self.report.add(FileResult(key, Outcome.SKIPPED, detail=f"already {state.lower()}"))
            return
        downloaded = download(self.s3, self.bucket, key, self.work_dir)
        if downloaded is None:
            reason = "listed in the manifest but not in the bucket yet"
            self.warehouse.mark_pending(key, run_id=manifest.run_id, dataset=dataset, reason=reason)
            self.report.add(FileResult(key, Outcome.PENDING, detail=reason))
            return
        try:
            landed, new_columns = check_file(downloaded, entry, self.warehouse.dialect)
            rows = self.warehouse.load_file(
                dataset_spec(entry.dataset), landed, key=key, run_id=manifest.run_id, new_columns=new_columns
            )
        except FileRejected as exc:
            self.reject(key, manifest.run_id, dataset, str(exc))
            return
        except AlreadyProcessed as exc:
            self.report.add(FileResult(key, Outcome.SKIPPED, detail=str(exc)))
            return
        finally:
            downloaded.path.unlink(missing_ok=True)
        detail = f"added columns {[c.name for c in new_columns]}" if new_columns else ""
        self.report.add(FileResult(key, Outcome.LOADED, rows=rows, detail=detail))


def backfill_manifests(*, s3: Any, bucket: str, warehouse: StagingWarehouse) -> list[str]:
    """Records the manifests of runs loaded before ``load_manifests`` existed; returns their run ids.

    A warehouse created before the loader recorded manifests holds staging rows whose runs dbt cannot see
    as complete (analytics/dbt ``stg_landing__runs``). Each run with loaded or quarantined files and no
    manifest row gets its manifest from the bucket. A manifest that is gone or invalid is logged and its run
    left out (as it would be had it never been loaded). Idempotent: in an up-to-date warehouse it is one query.
    """
    missing = warehouse.runs_without_manifest()
    if not missing:
        return []
    loader = _Loader(s3, bucket, warehouse)
    recorded: list[str] = []
    for run_id in missing:
        try:
            manifest = loader.manifest(run_id)
        except FileRejected as exc:
            logger.warning("manifest not backfilled: invalid", extra={"run_id": run_id, "error": str(exc)[:200]})
            continue
        if manifest is None or manifest.run_id != run_id:
            logger.warning("manifest not backfilled: not in the bucket", extra={"run_id": run_id})
            continue
        warehouse.record_manifest(manifest, key=manifest_key(run_id))
        recorded.append(run_id)
    logger.info("manifests backfilled", extra={"recorded": len(recorded), "missing": len(missing)})
    return recorded


# The warehouses whose manifests were backfilled: once per connection (a warm Lambda container's, a local run's).
_BACKFILLED: weakref.WeakSet[Any] = weakref.WeakSet()


def load_keys(
    keys: list[str],
    *,
    s3: Any,
    bucket: str,
    warehouse: StagingWarehouse,
    manifests: dict[str, Manifest] | None = None,
) -> LoadReport:
    """Processes created keys of the landing bucket with Snowpipe semantics (see the module doc).

    `manifests` (run id -> manifest) caches the manifests found in `bucket` (and recorded in `warehouse`) beyond
    this call: a batch's messages share one, so that the notifications of one run's files read and record its
    manifest once, not once per file. It holds for one warehouse only.

    The first call on a warehouse connection first backfills the manifests of older loads
    (:func:`backfill_manifests`): upgrading a warehouse needs no separate step.
    Raises :class:`LoadIncomplete` after every key was tried when some failed unexpectedly.
    """
    if warehouse not in _BACKFILLED:
        backfill_manifests(s3=s3, bucket=bucket, warehouse=warehouse)
        _BACKFILLED.add(warehouse)
    with tempfile.TemporaryDirectory(prefix="gpi-loader-") as work_dir:  # the downloads, one file at a time
        loader = _Loader(s3, bucket, warehouse, Path(work_dir), manifests)
        for key in dict.fromkeys(keys):
            loader.isolated(key, partial(loader.key, key))
    if loader.failed:
        raise LoadIncomplete(loader.report, loader.failed)
    return loader.report
