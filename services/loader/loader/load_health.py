"""Load health of the Snowflake staging warehouse, checked hourly by the loader's health Lambda.

:func:`check_load_health` compares manifests with ``COPY_HISTORY`` (Snowpipe and bulk loads) and the
loader's bookkeeping, and :func:`pipe_status` reads ``SYSTEM$PIPE_STATUS``; failed and missing files are
reported as EMF metrics and error logs.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from f1common import metrics as metric
from f1common.clock import utc_now
from f1common.datasets import DATASETS
from f1common.errors import describe_validation_error
from f1common.events import BadRequest
from f1common.layout import MANIFEST_PREFIX, RUN_ID_RE, parse_manifest_key, run_id_time
from f1common.manifest import Manifest
from f1common.names import SERVICE_LOADER
from f1common.observability import add_counts, child_logger
from f1common.settings import Settings
from f1common.snowpipe import pipe_name
from f1common.warehouse import LOAD_HISTORY, LOAD_QUARANTINE, schema_name, table_name
from loader.calendar_export import export_calendar_from_dynamodb
from loader.snowflake_auth import database_name

logger = child_logger(SERVICE_LOADER)

STAGING = schema_name("snowflake")

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


class HealthCheck(BaseModel):
    """The health Lambda's event (every field optional): how far back to look, how long a file may be in flight."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    lookback_hours: float = Field(default=24, gt=0)
    grace_minutes: float = Field(default=30, ge=0)

    @classmethod
    def parse(cls, event: Any) -> HealthCheck:
        try:
            return cls.model_validate(event or {})
        except ValidationError as exc:
            raise BadRequest(f"invalid health check event: {describe_validation_error(exc, '(event)')}") from None


def health_check(
    request: HealthCheck, settings: Settings, conn: Any, *, s3: Any, dynamodb: Any, metrics: Metrics
) -> dict[str, Any]:
    """The hourly health run: load health of the recent runs, then the race calendar exported to Snowflake."""
    report = check_recent_loads(
        conn,
        s3=s3,
        bucket=settings.bucket,
        database=database_name(settings),
        lookback_hours=request.lookback_hours,
        grace_minutes=request.grace_minutes,
        metrics=metrics,
    )
    cursor = conn.cursor()
    try:
        calendar = export_calendar_from_dynamodb(dynamodb, settings.table, cursor, "snowflake")
    finally:
        cursor.close()
    add_counts(metrics, {metric.CALENDAR_SESSIONS_EXPORTED: calendar.exported,
                         metric.CALENDAR_ITEMS_INVALID: len(calendar.invalid)})
    for bad in calendar.invalid:
        logger.warning("calendar item not exported", extra={"pk": bad.pk, "error": bad.error})
    logger.info("race calendar exported", extra={"table": settings.table, **calendar.summary()})
    return {**report.summary(), "calendar": calendar.summary()}
