"""Session ingestion: FastF1 session -> Parquet datasets + manifest in S3, recorded in the race calendar.

Order of a run (crash safety): validate the request against the season schedule (nothing written on a
bad request), claim the session's idempotency record (the run id is the claim's token), load and normalise
the session, upload one Parquet file per dataset under the run id (tagged pending), fence the claim (a
conditional write: only while the record still names this run), re-tag the files published, write the
manifest LAST, then mark the claim COMPLETE (conditional on the token again) and the calendar item INGESTED.

- A run that dies before its manifest leaves only unlisted files, which the loader ignores; they are
  reported as orphans (a marker and the ``OrphanFiles`` metric) by the run itself when it fails, or by the
  run that takes its expired claim over, and expire by the landing bucket's lifecycle rule.
- A run that lost its claim (a redelivery took it over after the TTL) fails its fence: it never publishes.
  Fenced, it writes its manifest only while its publishing lease (the fence's instant + the TTL) has at least
  ``MANIFEST_MARGIN`` left: after the lease a redelivery may take the claim over, so a run whose re-tags
  outlast it gives up (:class:`ClaimLost`) and its files become the taker's orphans. In the cloud the
  Lambda's 15-minute cap ends any run first; the embedded stack's workers have no such cap.
- A delivery answers DUPLICATE only when a complete run exists (COMPLETE, or PUBLISHING with its manifest
  written); it repairs the calendar item of a run that died after its manifest. While another run holds
  an unexpired claim, the delivery fails (:class:`ClaimHeld`) so that it is retried.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from f1common import metrics as metric
from f1common.clock import Clock, utc_iso, utc_now
from f1common.datasets import SESSION_DATASETS, ScheduleRow, Source
from f1common.events import BadRequest, CalendarStatus, IngestionOutcome, IngestionRequest, OutcomeStatus
from f1common.fastf1_setup import configure_fastf1
from f1common.layout import data_key, manifest_key, new_run_id, parse_data_key
from f1common.manifest import Manifest, ManifestFile, MissingDataset
from f1common.names import SERVICE_INGESTION
from f1common.schedule import ScheduleError, event_schedule, schedule_rows
from f1common.sessions import SessionId
from f1common.settings import Settings
from ingestion.landing import list_keys, manifest_exists, publish_files, put_manifest, put_table, report_orphans
from ingestion.normalize import DataNotAvailable, SessionTables, session_tables
from ingestion.observability import count, emit_rows, emit_seconds, logger, metrics
from ingestion.records import COMPLETE, DEFAULT_IN_PROGRESS_TTL, PUBLISHING, Claim, ClaimLost, IngestionRecords

SessionLoader = Callable[[SessionId, Settings], Any]

# The least of its publishing lease a run must have left to write its manifest: more than one small PUT takes.
MANIFEST_MARGIN = dt.timedelta(minutes=1)


def fastf1_version() -> str:
    import fastf1

    return f"fastf1 {fastf1.__version__}"


def load_event_schedule(season: int, settings: Settings) -> Any:
    """FastF1's event schedule of the season (testing excluded); :class:`BadRequest` naming `season` if none."""
    try:
        return event_schedule(season, settings)
    except ScheduleError as exc:
        raise BadRequest(f"invalid ingestion request: season: {exc}") from None


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
        holder = _complete_run(claim, calendar, session_id, s3=s3, bucket=settings.bucket, now=now)
        if holder is None:  # an expired PUBLISHING claim whose run never published: take it over
            claim = calendar.take_over(session_id, run_id, str(claim.holder), now, in_progress_ttl)
            if not claim.acquired:
                raise ClaimHeld(f"{session_id.key} changed hands while taking over the claim of {claim.holder}")
        else:
            return _duplicate(request, holder, calendar, schedule, s3=s3, bucket=settings.bucket, now=now, log=log)
    if claim.previous is not None:  # the claim of a run that died expired: its files are orphans
        _report_orphans(s3, settings.bucket, claim.previous, session_id, "claim expired; taken over", now)

    logger.info("ingestion started", extra={**log, "run_id": run_id})
    landed: list[str] = []
    fenced = False
    try:
        try:
            tables = session_tables(load_session(session_id, settings), session_id)
        except DataNotAvailable as exc:
            calendar.release(session_id, run_id)
            return _not_available(request, calendar, schedule, str(exc), clock(), started)
        files = upload_session(tables, run_id, s3=s3, bucket=settings.bucket, landed=landed)
        fenced_at = clock()
        calendar.fence(session_id, run_id, fenced_at, in_progress_ttl)  # ClaimLost: never publish
        fenced = True
        publish_files(s3, settings.bucket, [f.key for f in files])
        lease_ends = fenced_at + in_progress_ttl
        if clock() + MANIFEST_MARGIN > lease_ends:  # a redelivery may take the claim over from then on
            raise ClaimLost(f"{session_id.key}: the publishing lease of {run_id} ends at {utc_iso(lease_ends)}")
        manifest = publish_manifest(tables, run_id, files, s3=s3, bucket=settings.bucket, created_at=clock())
        finished = clock()
        calendar.complete(session_id, run_id, finished, manifest.rows)
    except BaseException as exc:
        if not fenced:  # nothing will publish these files: report them, and let the next delivery run at once
            calendar.release(session_id, run_id)
            if landed:  # best effort: never hides the failure itself (the takeover reports them otherwise)
                reason = f"run failed: {type(exc).__name__}"
                with contextlib.suppress(Exception):
                    _report_orphans(s3, settings.bucket, run_id, session_id, reason, clock())
        logger.exception("ingestion failed", extra={**log, "run_id": run_id, "fenced": fenced})
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


class ClaimHeld(RuntimeError):
    """Another run holds the session's claim and has not completed: this delivery fails, to be retried
    (EventBridge Scheduler's retries, then the dead-letter queue; the scheduler re-drives overdue sessions)."""


def _complete_run(
    claim: Claim, calendar: IngestionRecords, session_id: SessionId, *, s3: Any, bucket: str, now: dt.datetime
) -> str | None:
    """The run id of the session's complete run, when the claim we could not get shows one.

    COMPLETE: its holder. PUBLISHING with the holder's manifest in S3: the run is complete (the manifest is
    the commit point) though it died before saying so; its record is completed for it. PUBLISHING without a
    manifest and expired: None (the caller takes over). Anything else: :class:`ClaimHeld`.
    """
    holder = claim.holder
    if claim.status == COMPLETE and holder:
        return holder
    if claim.status == PUBLISHING and holder:
        if manifest_exists(s3, bucket, holder):
            with contextlib.suppress(ClaimLost):
                calendar.complete(session_id, holder, now, _manifest(s3, bucket, holder).rows)
            return holder
        if claim.expired(now):
            return None
    expires = (
        f"; its claim expires at {utc_iso(dt.datetime.fromtimestamp(claim.expires_at, dt.UTC))}"
        if (claim.expires_at)
        else ""
    )
    raise ClaimHeld(f"{session_id.key} is being ingested by run {holder} ({claim.status}){expires}")


def _duplicate(
    request: IngestionRequest,
    holder: str,
    calendar: IngestionRecords,
    schedule: ScheduleRow,
    *,
    s3: Any,
    bucket: str,
    now: dt.datetime,
    log: dict[str, Any],
) -> IngestionOutcome:
    """A complete run exists: DUPLICATE. The session's item is INGESTED by it (repaired if the run died
    between its manifest and that write)."""
    session_id = request.session_id
    item = calendar.calendar.get_attributes(session_id.key) or {}
    if item.get("status") != CalendarStatus.INGESTED.value or item.get("run_id") != holder:
        manifest = _manifest(s3, bucket, holder)
        missing = [m.dataset.value for m in manifest.missing]
        calendar.mark_ingested(
            session_id, schedule=schedule, run_id=holder, rows=manifest.rows, missing=missing, attempt=None, now=now
        )
        logger.warning("calendar item repaired from the complete run", extra={**log, "holder": holder})
    logger.info("duplicate ingestion request", extra={**log, "holder": holder})
    count(metric.DUPLICATE_REQUESTS)
    return IngestionOutcome(
        status=OutcomeStatus.DUPLICATE,
        session=session_id,
        attempt=request.attempt,
        run_id=holder,
        message=f"{session_id.key} is already ingested by run {holder}",
    )


def _manifest(s3: Any, bucket: str, run_id: str) -> Manifest:
    return Manifest.from_json(s3.get_object(Bucket=bucket, Key=manifest_key(run_id))["Body"].read())


def _report_orphans(s3: Any, bucket: str, run_id: str, session_id: SessionId, reason: str, now: dt.datetime) -> None:
    """Finds the files of `run_id` under the session's partitions and reports them (marker + metric)."""
    keys = [
        key
        for dataset in SESSION_DATASETS
        for key in list_keys(s3, bucket, data_key(dataset, run_id, session=session_id).rsplit("/", 1)[0] + "/")
        if parse_data_key(key).run_id == run_id
    ]
    if not keys:
        return
    marker = report_orphans(s3, bucket, run_id, session_id.key, keys, reason, now)
    metrics.add_metric(name=metric.ORPHAN_FILES, unit=MetricUnit.Count, value=len(keys))
    logger.warning(
        "orphan files reported",
        extra={"session": session_id.key, "run_id": run_id, "files": len(keys), "marker": marker, "reason": reason},
    )


def upload_session(
    tables: SessionTables, run_id: str, *, s3: Any, bucket: str, landed: list[str]
) -> list[ManifestFile]:
    """Uploads every dataset of the session (tagged pending); each key is appended to `landed` once written."""
    files = []
    for dataset in SESSION_DATASETS:
        table = tables.tables.get(dataset)
        if table is None:
            continue
        key = data_key(dataset, run_id, session=tables.session)
        files.append(put_table(s3, bucket, key, dataset, table))
        landed.append(key)
    return files


def publish_manifest(
    tables: SessionTables, run_id: str, files: list[ManifestFile], *, s3: Any, bucket: str, created_at: dt.datetime
) -> Manifest:
    """Writes the run's manifest (the commit point of the run); returns it."""
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


def land_session(tables: SessionTables, run_id: str, *, s3: Any, bucket: str, created_at: dt.datetime) -> Manifest:
    """Uploads every dataset of the session, then the manifest (last), without a claim (benchmarks, tests)."""
    files = upload_session(tables, run_id, s3=s3, bucket=bucket, landed=[])
    publish_files(s3, bucket, [f.key for f in files])
    return publish_manifest(tables, run_id, files, s3=s3, bucket=bucket, created_at=created_at)


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
