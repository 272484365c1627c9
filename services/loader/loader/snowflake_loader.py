"""Production loader for Snowflake: the COPY for S3 notifications, and load health.

(a) :class:`SnowflakeWarehouse` plugs Snowflake into the same Snowpipe semantics as DuckDB
(:mod:`loader.loading`), for accounts without Snowpipe and for replays. Each file is downloaded from S3 and
checked against its manifest first (so a bad file is quarantined whole, exactly as locally), its load
metadata columns (``_file_name``, ``_run_id``, ``_row_number``) are added, and it is PUT to an internal
stage (``stage``, a parameter: internal stages need no storage integration) under the same key. Then one
transaction runs the COPY (the pipes' transformation, reading the metadata from the file and
``CURRENT_TIMESTAMP()`` as ``_load_time``; ``PURGE = TRUE`` removes the staged copy) and records
``load_history``. The staged file's content is deterministic, so Snowflake's own COPY load metadata also
skips a file staged twice (e.g. two Lambdas racing on duplicate notifications).

(b) :func:`check_load_health` compares manifests with ``COPY_HISTORY`` (Snowpipe and bulk loads) and the
loader's bookkeeping, and :func:`pipe_status` reads ``SYSTEM$PIPE_STATUS``; failed and missing files are
reported as EMF metrics and error logs.

Authentication is key-pair only: the PEM private key comes from ``settings.snowflake_private_key_path`` or
Secrets Manager (``settings.snowflake_private_key_secret_id``); no password is ever used.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
import snowflake.connector
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from cryptography.hazmat.primitives import serialization
from snowflake.connector.errors import DatabaseError

from f1common import metrics as metric
from f1common.clock import utc_now
from f1common.datasets import DATASETS, DatasetSpec
from f1common.layout import MANIFEST_PREFIX, RUN_ID_RE, parse_data_key, parse_manifest_key, run_id_time
from f1common.manifest import Manifest
from f1common.names import SERVICE_LOADER
from f1common.settings import Settings
from f1common.snowpipe import pipe_name
from f1common.warehouse import (
    FILE_NAME,
    LOAD_HISTORY,
    LOAD_PENDING,
    LOAD_QUARANTINE,
    LOAD_TIME,
    ROW_NUMBER,
    RUN_ID,
    Dialect,
    StagingColumn,
    add_column_sql,
    all_ddl,
    dataset_columns,
    rows_column,
    schema_name,
    table_name,
)
from loader.loading import FileRejected

logger = Logger(service=SERVICE_LOADER, child=True)

STAGING = schema_name("snowflake")
DEFAULT_LOADER_STAGE = "GPI_LOADER_STAGE"


# --- connection -----------------------------------------------------------------------------------


def load_private_key(settings: Settings, secrets: Any | None = None) -> bytes:
    """The private key as unencrypted PKCS#8 DER, from a PEM file or a Secrets Manager secret."""
    if settings.snowflake_private_key_path is not None:
        pem = Path(settings.snowflake_private_key_path).read_bytes()
        source = str(settings.snowflake_private_key_path)
    elif settings.snowflake_private_key_secret_id:
        if secrets is None:
            raise ValueError("a Secrets Manager client is needed to read snowflake_private_key_secret_id")
        secret = secrets.get_secret_value(SecretId=settings.snowflake_private_key_secret_id)
        pem = (secret.get("SecretString") or secret["SecretBinary"])
        pem = pem.encode() if isinstance(pem, str) else pem
        source = f"secret {settings.snowflake_private_key_secret_id}"
    else:
        raise ValueError(
            "no Snowflake private key configured: set GPI_SNOWFLAKE_PRIVATE_KEY_PATH or "
            "GPI_SNOWFLAKE_PRIVATE_KEY_SECRET_ID (key-pair authentication; passwords are not supported)"
        )
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"Snowflake private key from {source} is not an unencrypted PEM private key: {exc}") from None
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def connect(settings: Settings, *, secrets: Any | None = None) -> Any:
    """A Snowflake connection with key-pair (JWT) authentication, schema STAGING of the stage's database."""
    required = {"snowflake_account": settings.snowflake_account, "snowflake_user": settings.snowflake_user}
    missing = [f"GPI_{name.upper()}" for name, value in required.items() if not value]
    if missing:
        raise ValueError(f"Snowflake settings missing: {', '.join(missing)}")
    return snowflake.connector.connect(
        account=settings.snowflake_account,
        user=settings.snowflake_user,
        authenticator="SNOWFLAKE_JWT",
        private_key=load_private_key(settings, secrets),
        role=settings.snowflake_role,
        warehouse=settings.snowflake_warehouse,
        database=settings.snowflake_database or settings.names.warehouse_database,
        schema=STAGING,
        session_parameters={"TIMEZONE": "UTC"},
    )


# --- (a) the COPY ---------------------------------------------------------------------------------


def staged_copy_statement(
    spec: DatasetSpec, *, database: str, schema: str, source: str, extra: Sequence[StagingColumn] = ()
) -> str:
    """COPY of one staged, enriched file: the pipes' transformation with the metadata read from the file."""
    cols = [*dataset_columns(spec, "snowflake"), *extra]
    target = ", ".join([c.name for c in cols] + [LOAD_TIME, FILE_NAME, RUN_ID, ROW_NUMBER])
    select = ", ".join(
        [f"$1:{c.name}::{c.type}" for c in cols]
        + ["CURRENT_TIMESTAMP()", f"$1:{FILE_NAME}::VARCHAR", f"$1:{RUN_ID}::VARCHAR", f"$1:{ROW_NUMBER}::NUMBER(38,0)"]
    )
    return (
        f"COPY INTO {database}.{schema}.{table_name(spec, 'snowflake')} ({target}) "
        f"FROM (SELECT {select} FROM {source}) FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE) PURGE = TRUE"
    )


def _is_data_error(exc: DatabaseError) -> bool:
    """Data exceptions (SQLSTATE 22xxx) and integrity violations (23xxx): the file is at fault, not the service."""
    return str(getattr(exc, "sqlstate", "") or "").startswith(("22", "23"))


class SnowflakeWarehouse:
    """Staging tables and bookkeeping in ``<database>.STAGING``; files arrive through an internal stage."""

    dialect: Dialect = "snowflake"

    def __init__(
        self, conn: Any, *, database: str, schema: str = STAGING, stage: str = DEFAULT_LOADER_STAGE,
        work_dir: Path | None = None,
    ) -> None:
        self.conn, self.database, self.schema = conn, database.upper(), schema.upper()
        self.stage = stage if "." in stage else f"{self.database}.{self.schema}.{stage.upper()}"
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="gpi-loader-"))
        self.fq = f"{self.database}.{self.schema}"

    def _execute(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall()) if cur.description else []

    def ensure_schema(self) -> None:
        for statement in all_ddl("snowflake", self.fq):
            self._execute(statement)
        self._execute(f"CREATE STAGE IF NOT EXISTS {self.stage}")

    def file_state(self, key: str) -> str | None:
        """The loader's bookkeeping, then the staging table itself: Snowpipe loads leave no load_history row."""
        rows = self._execute(
            f"SELECT 'LOADED' FROM {self.fq}.{LOAD_HISTORY} WHERE file_name = %s "
            f"UNION ALL SELECT 'QUARANTINED' FROM {self.fq}.{LOAD_QUARANTINE} WHERE file_name = %s",
            (key, key),
        )
        if rows:
            return str(rows[0][0])
        try:
            spec = DATASETS[parse_data_key(key).dataset]
        except ValueError:
            return None
        table = f"{self.fq}.{table_name(spec, 'snowflake')}"
        if self._execute(f"SELECT 1 FROM {table} WHERE {FILE_NAME} = %s LIMIT 1", (key,)):
            return "LOADED"
        return None

    def _stage_file(self, table: pa.Table, key: str, run_id: str) -> str:
        n = table.num_rows
        enriched = (
            table.append_column(FILE_NAME, pa.array([key] * n, pa.string()))
            .append_column(RUN_ID, pa.array([run_id] * n, pa.string()))
            .append_column(ROW_NUMBER, pa.array(range(1, n + 1), pa.int64()))
        )
        path = self.work_dir / key
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(enriched, path, compression="zstd")
        folder = key.rsplit("/", 1)[0]
        self._execute(f"PUT 'file://{path}' @{self.stage}/{folder}/ AUTO_COMPRESS = FALSE")
        path.unlink()
        return f"@{self.stage}/{key}"

    def load_file(
        self, spec: DatasetSpec, table: pa.Table, *, key: str, run_id: str, new_columns: list[StagingColumn]
    ) -> int:
        for column in new_columns:  # DDL commits implicitly in Snowflake: add the nullable columns first
            self._execute(add_column_sql(spec, column, "snowflake", self.fq))
        source = self._stage_file(table, key, run_id)
        copy = staged_copy_statement(spec, database=self.database, schema=self.schema, source=source,
                                     extra=new_columns)
        self._execute("BEGIN")
        try:
            result = self._execute(copy)
            status, loaded = (str(result[0][1]), int(result[0][3] or 0)) if result else ("NO_FILE", 0)
            if status == "LOADED" and loaded != table.num_rows:
                raise FileRejected(f"COPY loaded {loaded} of {table.num_rows} rows")
            if status not in ("LOADED", "LOAD_SKIPPED"):
                raise FileRejected(f"COPY of {source} returned {status}: {result}")
            self._execute(
                f"INSERT INTO {self.fq}.{LOAD_HISTORY} (file_name, run_id, dataset, {rows_column('snowflake')}, "
                "loaded_at, status) VALUES (%s, %s, %s, %s, CURRENT_TIMESTAMP(), 'LOADED')",
                (key, run_id, spec.name, table.num_rows),
            )
            self._execute(f"DELETE FROM {self.fq}.{LOAD_PENDING} WHERE file_name = %s", (key,))
            self._execute("COMMIT")
        except FileRejected:
            self._execute("ROLLBACK")
            raise
        except DatabaseError as exc:
            self._execute("ROLLBACK")
            if _is_data_error(exc):
                raise FileRejected(f"Snowflake refused the rows of {spec.name}: {exc}") from None
            raise
        # LOAD_SKIPPED: Snowflake had loaded this staged file already (bookkeeping was lost); no new rows.
        return loaded if status == "LOADED" else 0

    def quarantine(self, key: str, *, run_id: str | None, dataset: str | None, error: str) -> None:
        self._execute(
            f"INSERT INTO {self.fq}.{LOAD_QUARANTINE} (file_name, run_id, dataset, error, quarantined_at) "
            "VALUES (%s, %s, %s, %s, CURRENT_TIMESTAMP())",
            (key, run_id, dataset, error),
        )
        self._execute(f"DELETE FROM {self.fq}.{LOAD_PENDING} WHERE file_name = %s", (key,))

    def mark_pending(self, key: str, *, run_id: str, dataset: str, reason: str) -> None:
        self._execute(f"DELETE FROM {self.fq}.{LOAD_PENDING} WHERE file_name = %s", (key,))
        self._execute(
            f"INSERT INTO {self.fq}.{LOAD_PENDING} (file_name, run_id, dataset, reason, seen_at) "
            "VALUES (%s, %s, %s, %s, CURRENT_TIMESTAMP())",
            (key, run_id, dataset, reason),
        )

    def staging_rows(self, spec: DatasetSpec, key: str | None = None) -> int:
        where, params = (f" WHERE {FILE_NAME} = %s", (key,)) if key else ("", None)
        rows = self._execute(f"SELECT COUNT(*) FROM {self.fq}.{table_name(spec, 'snowflake')}{where}", params)
        return int(rows[0][0])


# --- (b) load health ------------------------------------------------------------------------------

HistorySource = Literal["COPY_HISTORY", "LOAD_HISTORY"]
FileStatus = Literal["LOADED", "FAILED", "MISSING", "IN_FLIGHT"]
FILE_STATUSES: tuple[FileStatus, ...] = ("LOADED", "FAILED", "MISSING", "IN_FLIGHT")


@dataclass(frozen=True)
class HistoryRecord:
    """One row of COPY_HISTORY / LOAD_HISTORY: the file (stage-relative or full path) and its status."""

    file_name: str
    status: str
    rows: int
    error: str | None = None

    @property
    def loaded(self) -> bool:
        return self.status.upper().replace(" ", "_") in ("LOADED", "LOAD_SKIPPED")


@dataclass(frozen=True)
class FileHealth:
    key: str
    dataset: str
    run_id: str
    status: FileStatus
    error: str | None = None


@dataclass(frozen=True)
class PipeStatus:
    pipe: str
    execution_state: str
    pending_files: int
    error: str | None = None

    @property
    def running(self) -> bool:
        return self.execution_state == "RUNNING"


@dataclass
class HealthReport:
    files: list[FileHealth] = field(default_factory=list)
    pipes: list[PipeStatus] = field(default_factory=list)

    def count(self, status: FileStatus) -> int:
        return sum(1 for f in self.files if f.status == status)

    def summary(self) -> dict[str, Any]:
        return {
            "files": {s: self.count(s) for s in FILE_STATUSES},
            "failed": [f.key for f in self.files if f.status == "FAILED"],
            "missing": [f.key for f in self.files if f.status == "MISSING"],
            "pipes_not_running": [p.pipe for p in self.pipes if not p.running],
        }


def copy_history(
    conn: Any, *, database: str, schema: str = STAGING, since: dt.datetime, source: HistorySource = "COPY_HISTORY"
) -> list[HistoryRecord]:
    """Load records of the staging tables since `since`.

    COPY_HISTORY (the table function, one call per table) covers Snowpipe and bulk COPY; the
    INFORMATION_SCHEMA.LOAD_HISTORY view covers bulk COPY only (and is what fakesnow emulates).
    """
    rows: list[tuple[Any, ...]] = []
    with conn.cursor() as cur:
        if source == "LOAD_HISTORY":
            cur.execute(
                "SELECT file_name, status, row_count, first_error_message "
                f"FROM {database}.INFORMATION_SCHEMA.LOAD_HISTORY "
                "WHERE schema_name = %s AND last_load_time >= %s",
                (schema.upper(), since),
            )
            rows.extend(cur.fetchall())
        else:
            for spec in DATASETS.values():
                cur.execute(
                    "SELECT file_name, status, row_count, first_error_message FROM TABLE("
                    f"{database}.INFORMATION_SCHEMA.COPY_HISTORY(TABLE_NAME => %s, START_TIME => %s::TIMESTAMP_LTZ))",
                    (f"{database}.{schema}.{table_name(spec, 'snowflake')}", since.isoformat()),
                )
                rows.extend(cur.fetchall())
    return [HistoryRecord(str(r[0]), str(r[1]), int(r[2] or 0), r[3]) for r in rows]


def parse_pipe_status(pipe: str, raw: str) -> PipeStatus:
    """Parses the JSON returned by SYSTEM$PIPE_STATUS."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"SYSTEM$PIPE_STATUS({pipe}) did not return JSON: {exc}") from None
    error = data.get("error") or data.get("lastIngestedErrorMessage") or None
    return PipeStatus(pipe, str(data.get("executionState", "UNKNOWN")), int(data.get("pendingFileCount", 0)), error)


def pipe_status(conn: Any, *, database: str, schema: str = STAGING) -> list[PipeStatus]:
    """SYSTEM$PIPE_STATUS of every dataset's pipe."""
    statuses = []
    with conn.cursor() as cur:
        for spec in DATASETS.values():
            fq = f"{database}.{schema}.{pipe_name(spec)}"
            cur.execute("SELECT SYSTEM$PIPE_STATUS(%s)", (fq,))
            row = cur.fetchone()
            statuses.append(parse_pipe_status(fq, str(row[0]) if row else "{}"))
    return statuses


def _bookkeeping(conn: Any, fq: str) -> tuple[set[str], dict[str, str]]:
    with conn.cursor() as cur:
        cur.execute(f"SELECT file_name FROM {fq}.{LOAD_HISTORY}")
        loaded = {str(r[0]) for r in cur.fetchall()}
        cur.execute(f"SELECT file_name, error FROM {fq}.{LOAD_QUARANTINE}")
        quarantined = {str(r[0]): str(r[1]) for r in cur.fetchall()}
    return loaded, quarantined


def assess(
    manifests: Sequence[Manifest],
    history: Sequence[HistoryRecord],
    *,
    loaded: set[str] = frozenset(),  # type: ignore[assignment]
    quarantined: dict[str, str] | None = None,
    now: dt.datetime,
    grace: dt.timedelta,
) -> list[FileHealth]:
    """The status of every file of the manifests: loaded, failed (with the error), missing or still in flight."""
    quarantined = quarantined or {}
    by_key: dict[str, list[HistoryRecord]] = {}
    for record in history:
        name = record.file_name.lstrip("/")
        if "dataset=" in name:
            name = name[name.index("dataset="):]  # stage-relative, internal-stage or URL paths end with the key
        by_key.setdefault(name, []).append(record)
    files = []
    for manifest in manifests:
        for entry in manifest.files:
            records = by_key.get(entry.key, [])
            status: FileStatus
            error = None
            if entry.key in loaded or any(r.loaded for r in records):
                status = "LOADED"
            elif entry.key in quarantined or records:
                status = "FAILED"
                history_error = next((r.error for r in records if r.error), None)
                error = quarantined.get(entry.key) or history_error or records[0].status
            elif now - manifest.created_at < grace:
                status = "IN_FLIGHT"
            else:
                status = "MISSING"
            files.append(FileHealth(entry.key, entry.dataset.value, manifest.run_id, status, error))
    return files


def recent_manifests(s3: Any, bucket: str, since: dt.datetime) -> list[Manifest]:
    """Manifests of runs started since `since` (run ids, hence manifest keys, sort by time)."""
    start_after = f"{MANIFEST_PREFIX}{run_id_time(since)}"
    manifests = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=MANIFEST_PREFIX,
                                                             StartAfter=start_after):
        for obj in page.get("Contents", []):
            try:
                parse_manifest_key(obj["Key"])
            except ValueError:
                continue
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            manifests.append(Manifest.from_json(body))
    return manifests


def report_health(report: HealthReport, metrics: Metrics) -> None:
    names: dict[FileStatus, str] = {"LOADED": metric.HEALTH_FILES_LOADED, "FAILED": metric.HEALTH_FILES_FAILED,
                                    "MISSING": metric.HEALTH_FILES_MISSING, "IN_FLIGHT": metric.HEALTH_FILES_IN_FLIGHT}
    for status, name in names.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=report.count(status))
    if report.pipes:
        metrics.add_metric(name=metric.PIPES_NOT_RUNNING, unit=MetricUnit.Count,
                           value=sum(1 for p in report.pipes if not p.running))
        metrics.add_metric(name=metric.PIPE_PENDING_FILES, unit=MetricUnit.Count,
                           value=sum(p.pending_files for p in report.pipes))
    for f in report.files:
        if f.status in ("FAILED", "MISSING"):
            logger.error("file not loaded", extra={"key": f.key, "dataset": f.dataset, "run_id": f.run_id,
                                                   "status": f.status, "error": f.error})
    for p in report.pipes:
        if not p.running or p.error:
            logger.error("pipe unhealthy", extra={"pipe": p.pipe, "state": p.execution_state, "error": p.error})
    logger.info("load health", extra=report.summary())


def check_load_health(
    conn: Any,
    manifests: Sequence[Manifest],
    *,
    database: str,
    schema: str = STAGING,
    since: dt.datetime,
    metrics: Metrics,
    now: dt.datetime | None = None,
    grace: dt.timedelta = dt.timedelta(minutes=30),
    history_source: HistorySource = "COPY_HISTORY",
    pipes: Callable[[], list[PipeStatus]] | None = None,
) -> HealthReport:
    """Compares the manifests' files with what Snowflake loaded; emits metrics and logs for the gaps."""
    now = now or utc_now()
    history = copy_history(conn, database=database, schema=schema, since=since, source=history_source)
    loaded, quarantined = _bookkeeping(conn, f"{database}.{schema}")
    report = HealthReport(
        files=assess(manifests, history, loaded=loaded, quarantined=quarantined, now=now, grace=grace),
        pipes=pipes() if pipes is not None else [],
    )
    report_health(report, metrics)
    return report


def check_recent_loads(
    conn: Any,
    *,
    s3: Any,
    bucket: str,
    database: str,
    lookback_hours: float = 24,
    grace_minutes: float = 30,
    metrics: Metrics,
    history_source: HistorySource = "COPY_HISTORY",
    check_pipes: bool = True,
    now: dt.datetime | None = None,
) -> HealthReport:
    """Load health of the runs of the last `lookback_hours` (the scheduled health Lambda)."""
    now = now or utc_now()
    since = now - dt.timedelta(hours=lookback_hours)
    manifests = [m for m in recent_manifests(s3, bucket, since) if RUN_ID_RE.match(m.run_id)]
    return check_load_health(
        conn, manifests, database=database, since=since, metrics=metrics, now=now,
        grace=dt.timedelta(minutes=grace_minutes), history_source=history_source,
        pipes=(lambda: pipe_status(conn, database=database)) if check_pipes else None,
    )
