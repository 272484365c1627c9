"""Lands a season's schedule (the `schedule` dataset, partitioned by season) with its own manifest, when it
changed since the season's last landing."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from f1common.clock import Clock, utc_now
from f1common.datasets import Dataset, ScheduleRow, Source
from f1common.events import BadRequest
from f1common.layout import SCHEDULE_MARKER_PREFIX, data_key, new_run_id
from f1common.manifest import Manifest
from f1common.names import SERVICE_INGESTION
from f1common.schedule import ScheduleError, load_schedule
from f1common.settings import Settings
from f1common.tables import rows_to_table
from ingestion.ingest import fastf1_version
from ingestion.landing import get_json, put_json, put_manifest, put_table
from ingestion.observability import emit_rows, logger


@dataclass(frozen=True)
class ScheduleLanding:
    season: int
    digest: str  # sha256 of the schedule's rows: what "changed" means
    run_id: str  # the run that landed this schedule (an earlier one when `skipped`)
    rows: int
    skipped: bool = False


def schedule_digest(rows: Sequence[ScheduleRow]) -> str:
    digest = hashlib.sha256()
    for row in rows:
        digest.update(row.model_dump_json().encode() + b"\n")
    return digest.hexdigest()


def marker_key(season: int) -> str:
    return f"{SCHEDULE_MARKER_PREFIX}{season:04d}.json"


def land_schedule(season: int, *, s3: Any, settings: Settings, clock: Clock = utc_now) -> ScheduleLanding:
    """Loads the season's schedule from FastF1 (f1common.schedule) and lands it as a new run, unless the
    season's last landed schedule (its marker) has the same rows. The loader merges on the natural key
    (season, round, session). An unknown season raises :class:`BadRequest` naming `season`.

    The marker is written after the manifest: a landing that dies between the two lands again next time
    (the loader merges the same rows again), never not at all.
    """
    try:
        rows = load_schedule(season, settings)
    except ScheduleError as exc:
        raise BadRequest(f"invalid schedule request: season: {exc}") from None
    digest = schedule_digest(rows)
    last = _last_landed(s3, settings.bucket, season)
    if last is not None and last.get("digest") == digest:
        logger.info("schedule unchanged", extra={"season": season, "run_id": last.get("run_id")})
        return ScheduleLanding(season, digest, str(last.get("run_id")), len(rows), skipped=True)
    table = rows_to_table(rows, Dataset.SCHEDULE)
    run_id = new_run_id(clock())
    entry = put_table(s3, settings.bucket, data_key(Dataset.SCHEDULE, run_id, season=season), Dataset.SCHEDULE, table)
    manifest = Manifest(
        run_id=run_id,
        source=Source.FASTF1,
        created_at=clock(),
        producer=SERVICE_INGESTION,
        source_version=fastf1_version(),
        files=[entry],
    )
    put_manifest(s3, settings.bucket, manifest)
    body = {"season": season, "digest": digest, "run_id": run_id, "rows": entry.rows}
    put_json(s3, settings.bucket, marker_key(season), body)
    emit_rows(manifest.rows, season=str(season))
    logger.info("schedule landed", extra={"season": season, "run_id": run_id, "rows": entry.rows})
    return ScheduleLanding(season, digest, run_id, entry.rows)


def _last_landed(s3: Any, bucket: str, season: int) -> dict[str, Any] | None:
    marker = get_json(s3, bucket, marker_key(season))  # unreadable: None, so it lands again (and rewrites it)
    return marker if isinstance(marker, dict) else None
