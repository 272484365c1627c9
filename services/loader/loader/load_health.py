"""Load health of the staging warehouse, checked hourly by the loader's health Lambda (and by the local run).

:func:`check_load_health` compares manifests with ``COPY_HISTORY`` (Snowpipe and bulk loads; Snowflake only) and
the loader's bookkeeping, and :func:`pipe_status` reads ``SYSTEM$PIPE_STATUS``; failed and missing files are
reported as EMF metrics and error logs, and every finding (each file: LOADED, FAILED, MISSING or IN_FLIGHT; each
pipe's state; with the reason) replaces the previous check's in ``staging.load_health``
(:func:`f1common.warehouse.replace_load_health`), which the pipeline-health dashboard reads. A check also
revisits the runs of the previous check's open findings, whatever their age, so a finding is resolved (LOADED)
when its file loads and never just drops out of the lookback window. On the embedded DuckDB stack the same
check runs on the loader's bookkeeping alone (no COPY_HISTORY, no pipes).

Two checks at once are safe: each replaces the table in one transaction (the later one wins), so no finding is
ever doubled.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from f1common import metrics as metric
from f1common.clock import utc_iso, utc_now
from f1common.datasets import DATASETS
from f1common.errors import describe_validation_error
from f1common.events import BadRequest
from f1common.layout import MANIFEST_PREFIX, RUN_ID_RE, manifest_key, parse_manifest_key, run_id_time
from f1common.manifest import Manifest
from f1common.names import SERVICE_LOADER
from f1common.observability import add_counts, child_logger
from f1common.settings import Settings
from f1common.snowpipe import pipe_name
from f1common.warehouse import (
    FINDING_FILE,
    FINDING_PIPE,
    LOAD_HEALTH,
    LOAD_HISTORY,
    LOAD_QUARANTINE,
    REASON_CHARS,
    Dialect,
    load_health_ddl,
    replace_load_health,
    schema_name,
    staging_relation,
    table_name,
)
from loader.calendar_export import export_calendar_from_dynamodb
from loader.snowflake_auth import database_name

logger = child_logger(SERVICE_LOADER)

STAGING = schema_name("snowflake")
# COPY_HISTORY keeps 14 days: a revisited run older than that is checked against the loader's bookkeeping and
# what COPY_HISTORY still holds.
COPY_HISTORY_DAYS = 14

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
            name = name[name.index("dataset=") :]  # stage-relative, internal-stage or URL paths end with the key
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
                error = f"landed {utc_iso(manifest.created_at)}; within the {grace} grace period"
            else:
                status = "MISSING"
                error = f"listed by the manifest of {utc_iso(manifest.created_at)}; not in staging after {grace}"
            files.append(FileHealth(entry.key, entry.dataset.value, manifest.run_id, status, error))
    return files


@dataclass(frozen=True)
class Finding:
    """A row of ``staging.load_health``: what one check found about one file or pipe."""

    kind: str  # FINDING_FILE or FINDING_PIPE
    subject: str  # the file's key or the pipe's name
    dataset: str | None
    run_id: str | None
    status: str
    healthy: bool
    reason: str | None
    pending_files: int | None
    status_since: dt.datetime
    checked_at: dt.datetime

    def row(self) -> tuple[Any, ...]:
        return (
            self.kind,
            self.subject,
            self.dataset,
            self.run_id,
            self.status,
            self.healthy,
            self.reason,
            self.pending_files,
            self.status_since,
            self.checked_at,
        )


def _bounded(text: str | None) -> str | None:
    return None if text is None else text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 3] + "..."


def findings(report: HealthReport, previous: Mapping[tuple[str, str], Finding], now: dt.datetime) -> list[Finding]:
    """The report as findings, one per subject; a subject whose status is unchanged keeps the time it entered it."""

    def since(kind: str, subject: str, status: str) -> dt.datetime:
        before = previous.get((kind, subject))
        return before.status_since if before is not None and before.status == status else now

    out = [
        Finding(
            FINDING_FILE,
            f.key,
            f.dataset,
            f.run_id,
            f.status,
            f.status not in ("FAILED", "MISSING"),
            _bounded(f.error),
            None,
            since(FINDING_FILE, f.key, f.status),
            now,
        )
        for f in report.files
    ]
    out += [
        Finding(
            FINDING_PIPE,
            p.pipe,
            None,
            None,
            p.execution_state,
            p.running and not p.error,
            _bounded(p.error),
            p.pending_files,
            since(FINDING_PIPE, p.pipe, p.execution_state),
            now,
        )
        for p in report.pipes
    ]
    return list({(f.kind, f.subject): f for f in out}.values())


def previous_findings(conn: Any, dialect: Dialect) -> dict[tuple[str, str], Finding]:
    """The last check's findings (creating ``staging.load_health`` on the first check)."""
    columns = ", ".join(f.name for f in Finding.__dataclass_fields__.values())
    with conn.cursor() as cur:
        for statement in load_health_ddl(dialect).split(";\n"):
            cur.execute(statement)
        cur.execute(f"SELECT {columns} FROM {staging_relation(LOAD_HEALTH)}")
        rows = cur.fetchall()
    found = [Finding(str(r[0]), str(r[1]), r[2], r[3], str(r[4]), bool(r[5]), r[6], r[7], r[8], r[9]) for r in rows]
    return {(f.kind, f.subject): f for f in found}


def record_findings(conn: Any, found: Sequence[Finding], dialect: Dialect) -> int:
    """Replaces ``staging.load_health`` with this check's findings (one transaction, bound parameters)."""
    with conn.cursor() as cur:
        return replace_load_health(cur, [f.row() for f in found], dialect)


def revisited_manifests(
    s3: Any, bucket: str, previous: Mapping[tuple[str, str], Finding], checked: set[str]
) -> list[Manifest]:
    """The manifests of the runs with an open file finding (not LOADED) that the window does not cover."""
    runs = sorted(
        {
            f.run_id
            for f in previous.values()
            if f.kind == FINDING_FILE and f.status != "LOADED" and f.run_id and f.run_id not in checked
        }
    )
    manifests = []
    for run_id in runs:
        if not RUN_ID_RE.match(run_id):
            continue
        try:
            body = s3.get_object(Bucket=bucket, Key=manifest_key(run_id))["Body"].read()
        except s3.exceptions.NoSuchKey:
            logger.warning("manifest of an open finding is gone", extra={"run_id": run_id})
            continue
        manifests.append(Manifest.from_json(body))
    return manifests


def recent_manifests(s3: Any, bucket: str, since: dt.datetime) -> list[Manifest]:
    """Manifests of runs started since `since` (run ids, hence manifest keys, sort by time)."""
    start_after = f"{MANIFEST_PREFIX}{run_id_time(since)}"
    manifests = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=MANIFEST_PREFIX, StartAfter=start_after
    ):
        for obj in page.get("Contents", []):
            try:
                parse_manifest_key(obj["Key"])
            except ValueError:
                continue
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            manifests.append(Manifest.from_json(body))
    return manifests


def report_health(report: HealthReport, metrics: Metrics) -> None:
    names: dict[FileStatus, str] = {
        "LOADED": metric.HEALTH_FILES_LOADED,
        "FAILED": metric.HEALTH_FILES_FAILED,
        "MISSING": metric.HEALTH_FILES_MISSING,
        "IN_FLIGHT": metric.HEALTH_FILES_IN_FLIGHT,
    }
    for status, name in names.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=report.count(status))
    if report.pipes:
        metrics.add_metric(
            name=metric.PIPES_NOT_RUNNING, unit=MetricUnit.Count, value=sum(1 for p in report.pipes if not p.running)
        )
        metrics.add_metric(
            name=metric.PIPE_PENDING_FILES, unit=MetricUnit.Count, value=sum(p.pending_files for p in report.pipes)
        )
    for f in report.files:
        if f.status in ("FAILED", "MISSING"):
            logger.error(
                "file not loaded",
                extra={
                    "key": f.key,
                    "dataset": f.dataset,
                    "run_id": f.run_id,
                    "status": f.status,
                    "error": _bounded(f.error),
                },
            )
    for p in report.pipes:
        if not p.running or p.error:
            logger.error(
                "pipe unhealthy", extra={"pipe": p.pipe, "state": p.execution_state, "error": _bounded(p.error)}
            )
    logger.info("load health", extra=report.summary())


def check_load_health(
    conn: Any,
    manifests: Sequence[Manifest],
    *,
    database: str | None = None,
    schema: str = STAGING,
    since: dt.datetime,
    metrics: Metrics,
    now: dt.datetime | None = None,
    grace: dt.timedelta = dt.timedelta(minutes=30),
    history_source: HistorySource = "COPY_HISTORY",
    pipes: Callable[[], list[PipeStatus]] | None = None,
    dialect: Dialect = "snowflake",
    previous: Mapping[tuple[str, str], Finding] | None = None,
) -> HealthReport:
    """Compares the manifests' files with what the warehouse loaded; emits metrics and logs for the gaps and records
    the findings in ``staging.load_health``. On DuckDB the loader's bookkeeping is the whole history."""
    now = now or utc_now()
    if previous is None:
        previous = previous_findings(conn, dialect)
    if dialect == "snowflake":
        if database is None:
            raise ValueError("the Snowflake load-health check needs the database")
        history = copy_history(conn, database=database, schema=schema, since=since, source=history_source)
        loaded, quarantined = _bookkeeping(conn, f"{database}.{schema}")
    else:
        history = []
        loaded, quarantined = _bookkeeping(conn, schema_name(dialect))
    report = HealthReport(
        files=assess(manifests, history, loaded=loaded, quarantined=quarantined, now=now, grace=grace),
        pipes=pipes() if pipes is not None else [],
    )
    report_health(report, metrics)
    record_findings(conn, findings(report, previous, now), dialect)
    return report


def check_recent_loads(
    conn: Any,
    *,
    s3: Any,
    bucket: str,
    database: str | None = None,
    lookback_hours: float = 24,
    grace_minutes: float = 30,
    metrics: Metrics,
    history_source: HistorySource = "COPY_HISTORY",
    check_pipes: bool = True,
    now: dt.datetime | None = None,
    dialect: Dialect = "snowflake",
) -> HealthReport:
    """Load health of the runs of the last `lookback_hours` and of the previous check's open findings (the
    scheduled health Lambda)."""
    now = now or utc_now()
    since = now - dt.timedelta(hours=lookback_hours)
    previous = previous_findings(conn, dialect)
    manifests = [m for m in recent_manifests(s3, bucket, since) if RUN_ID_RE.match(m.run_id)]
    revisited = revisited_manifests(s3, bucket, previous, {m.run_id for m in manifests})
    if revisited:
        oldest = min(m.created_at for m in revisited) - dt.timedelta(minutes=5)
        since = max(min(since, oldest), now - dt.timedelta(days=COPY_HISTORY_DAYS))
    return check_load_health(
        conn,
        [*revisited, *manifests],
        database=database,
        since=since,
        metrics=metrics,
        now=now,
        grace=dt.timedelta(minutes=grace_minutes),
        history_source=history_source,
        pipes=(lambda: pipe_status(conn, database=database)) if check_pipes and database is not None else None,
        dialect=dialect,
        previous=previous,
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
    """The hourly health run: load health of the recent runs, then the race calendar exported to the warehouse
    (Snowflake in the cloud; the embedded stack's DuckDB file locally, without COPY_HISTORY or pipes)."""
    dialect: Dialect = settings.warehouse
    report = check_recent_loads(
        conn,
        s3=s3,
        bucket=settings.bucket,
        database=database_name(settings) if dialect == "snowflake" else None,
        lookback_hours=request.lookback_hours,
        grace_minutes=request.grace_minutes,
        metrics=metrics,
        dialect=dialect,
    )
    cursor = conn.cursor()
    try:
        calendar = export_calendar_from_dynamodb(dynamodb, settings.table, cursor, dialect)
    finally:
        cursor.close()
    add_counts(
        metrics,
        {metric.CALENDAR_SESSIONS_EXPORTED: calendar.exported, metric.CALENDAR_ITEMS_INVALID: len(calendar.invalid)},
    )
    for bad in calendar.invalid:
        logger.warning("calendar item not exported", extra={"pk": bad.pk, "error": bad.error})
    logger.info("race calendar exported", extra={"table": settings.table, **calendar.summary()})
    return {**report.summary(), "calendar": calendar.summary()}
