"""Session ingestion: FastF1 session -> Parquet datasets + manifest in S3, recorded in the race calendar.

Order of a run (crash safety): validate the request against the season schedule (nothing written on a
bad request), claim the session's idempotency record, load and normalise the session, upload one
Parquet file per dataset under a fresh run id, write the manifest LAST, then mark the claim COMPLETE
and the calendar item INGESTED. A run that dies before its manifest leaves only unlisted files, which
the loader ignores; the retry lands a new run.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from f1common import metrics as metric
from f1common.clock import Clock, utc_iso, utc_now
from f1common.datasets import SESSION_DATASETS, ScheduleRow, Source
from f1common.events import BadRequest, IngestionOutcome, IngestionRequest, OutcomeStatus
from f1common.fastf1_setup import configure_fastf1
from f1common.layout import data_key, new_run_id
from f1common.manifest import Manifest, MissingDataset
from f1common.names import SERVICE_INGESTION
from f1common.schedule import ScheduleError, schedule_rows
from f1common.sessions import SessionId
from f1common.settings import Settings
from ingestion.landing import put_manifest, put_table
from ingestion.normalize import DataNotAvailable, SessionTables, session_tables
from ingestion.observability import count, emit_rows, emit_seconds, logger
from ingestion.records import COMPLETE, DEFAULT_IN_PROGRESS_TTL, IngestionRecords

SessionLoader = Callable[[SessionId, Settings], Any]


def fastf1_version() -> str:
    import fastf1

    return f"fastf1 {fastf1.__version__}"


def load_event_schedule(season: int, settings: Settings) -> Any:
    """FastF1's event schedule of the season (testing excluded); :class:`BadRequest` naming `season` if none."""
    import fastf1

    configure_fastf1(settings)
    try:
        events = fastf1.get_event_schedule(season, include_testing=False)
    except Exception as exc:  # FastF1 raises plain Exceptions/ValueErrors for unknown or uncached seasons
        raise BadRequest(f"invalid ingestion request: season: no FastF1 event schedule for {season}: {exc}") from None
    if events is None or len(events) == 0:
        raise BadRequest(f"invalid ingestion request: season: FastF1 has no events for season {season}")
    return events


def load_fastf1_session(session_id: SessionId, settings: Settings, events: Any = None) -> Any:
    """Loads a session with FastF1 (laps, results, weather, race control; no car telemetry).

    ``events``: the season's event schedule when the caller has it already (saves building it twice).
    """
    import fastf1

    configure_fastf1(settings)
    if events is None:
        session = fastf1.get_session(session_id.season, session_id.round, session_id.session.fastf1_name)
    else:
        session = events.get_event_by_round(session_id.round).get_session(session_id.session.fastf1_name)
    session.load(laps=True, telemetry=False, weather=True, messages=True)
    return session


def validate_request(request: IngestionRequest, schedule: list[ScheduleRow]) -> ScheduleRow:
    """The schedule row of the requested session; :class:`BadRequest` naming the field otherwise."""
    rounds = sorted({r.round for r in schedule})
    if not rounds:
        raise BadRequest(f"invalid ingestion request: season: FastF1 has no sessions for season {request.season}")
    event = [r for r in schedule if r.round == request.round]
    if not event:
        raise BadRequest(
            f"invalid ingestion request: round: season {request.season} has rounds "
            f"{rounds[0]}-{rounds[-1]}, got {request.round}"
        )
    match = next((r for r in event if r.session == request.session.code), None)
    if match is None:
        codes = ", ".join(r.session for r in event)
        raise BadRequest(
            f"invalid ingestion request: session: {event[0].event_name} {request.season} has no "
            f"{request.session.fastf1_name} ({request.session.code}); its sessions are {codes}"
        )
    return match


def ingest_session(
    request: IngestionRequest,
    *,
    s3: Any,
    dynamodb_table_or_client: Any,
    settings: Settings,
    clock: Clock = utc_now,
    load_session: SessionLoader | None = None,
    in_progress_ttl: dt.timedelta = DEFAULT_IN_PROGRESS_TTL,
) -> IngestionOutcome:
    """Ingests one session idempotently; see the module docstring for the order of writes.

    ``load_session`` replaces the FastF1 load (tests); by default the session comes from the same event
    schedule the request was validated against.
    """
    started = time.perf_counter()
    session_id = request.session_id
    events = load_event_schedule(request.season, settings)
    try:
        season_rows = schedule_rows(request.season, events.to_dict("records"))
    except ScheduleError as exc:
        raise BadRequest(f"invalid ingestion request: season: {exc}") from None
    schedule = validate_request(request, season_rows)
    if load_session is None:
        load_session = partial(load_fastf1_session, events=events)
    calendar = IngestionRecords(dynamodb_table_or_client, settings.table)
    log = {"session": session_id.key, "attempt": request.attempt, "reason": request.reason}

    now = clock()
    if schedule.session_start_utc is not None and schedule.session_start_utc > now:
        message = f"{session_id.key} starts at {utc_iso(schedule.session_start_utc)}, in the future"
        return _not_available(request, calendar, schedule, message, now, started)

    run_id = new_run_id(now)
    claim = calendar.claim(session_id, run_id, now, in_progress_ttl)
    if not claim.acquired:
        state = "ingested" if claim.status == COMPLETE else "being ingested"
        message = f"{session_id.key} is already {state} by run {claim.holder}"
        logger.info("duplicate ingestion request", extra={**log, "holder": claim.holder, "state": claim.status})
        count(metric.DUPLICATE_REQUESTS)
        return IngestionOutcome(
            status=OutcomeStatus.DUPLICATE,
            session=session_id,
            attempt=request.attempt,
            run_id=claim.holder,
            message=message,
        )

    logger.info("ingestion started", extra={**log, "run_id": run_id})
    manifest_written = False
    try:
        try:
            tables = session_tables(load_session(session_id, settings), session_id)
        except DataNotAvailable as exc:
            calendar.release(session_id, run_id)
            return _not_available(request, calendar, schedule, str(exc), clock(), started)
        manifest = land_session(tables, run_id, s3=s3, bucket=settings.bucket, created_at=clock())
        manifest_written = True
        finished = clock()
        calendar.complete(session_id, run_id, finished)
    except BaseException:
        if not manifest_written:  # nothing complete landed: let the next delivery run at once
            calendar.release(session_id, run_id)
        logger.exception("ingestion failed", extra={**log, "run_id": run_id, "manifest_written": manifest_written})
        raise

    missing = [m.dataset.value for m in manifest.missing]
    calendar.mark_ingested(
        session_id,
        schedule=schedule,
        run_id=run_id,
        rows=manifest.rows,
        missing=missing,
        attempt=request.attempt,
        now=finished,
    )
    duration = time.perf_counter() - started
    emit_rows(manifest.rows)
    emit_seconds(metric.INGESTION_DURATION, duration)
    count(metric.SESSIONS_INGESTED)
    logger.info(
        "ingestion complete",
        extra={**log, "run_id": run_id, "rows": manifest.rows, "missing": missing, "duration_s": round(duration, 3)},
    )
    return IngestionOutcome(
        status=OutcomeStatus.INGESTED,
        session=session_id,
        attempt=request.attempt,
        run_id=run_id,
        rows=manifest.rows,
        missing=missing,
        message=f"landed {sum(manifest.rows.values())} rows in {len(manifest.files)} files",
    )


def land_session(tables: SessionTables, run_id: str, *, s3: Any, bucket: str, created_at: dt.datetime) -> Manifest:
    """Uploads every dataset of the session, then the manifest (last); returns the manifest."""
    files = []
    for dataset in SESSION_DATASETS:
        table = tables.tables.get(dataset)
        if table is None:
            continue
        key = data_key(dataset, run_id, session=tables.session)
        files.append(put_table(s3, bucket, key, dataset, table))
    manifest = Manifest(
        run_id=run_id,
        source=Source.FASTF1,
        session=tables.session,
        created_at=created_at,
        producer=SERVICE_INGESTION,
        source_version=fastf1_version(),
        files=files,
        missing=[MissingDataset(dataset=d, reason=r) for d, r in tables.missing.items()],
    )
    put_manifest(s3, bucket, manifest)
    return manifest


def _not_available(
    request: IngestionRequest,
    calendar: IngestionRecords,
    schedule: ScheduleRow,
    message: str,
    now: dt.datetime,
    started: float,
) -> IngestionOutcome:
    session_id = request.session_id
    calendar.mark_not_available(session_id, schedule=schedule, attempt=request.attempt, message=message, now=now)
    logger.info(
        "session data not available yet",
        extra={"session": session_id.key, "attempt": request.attempt, "detail": message},
    )
    count(metric.SESSIONS_NOT_AVAILABLE)
    emit_seconds(metric.INGESTION_DURATION, time.perf_counter() - started)
    return IngestionOutcome(
        status=OutcomeStatus.NOT_AVAILABLE, session=session_id, attempt=request.attempt, message=message
    )
