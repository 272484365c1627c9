"""Lands a season's schedule (the `schedule` dataset, partitioned by season) with its own manifest."""

from __future__ import annotations

from typing import Any

from f1common.clock import Clock, utc_now
from f1common.datasets import Dataset, Source
from f1common.events import BadRequest
from f1common.layout import data_key, new_run_id
from f1common.manifest import Manifest
from f1common.names import SERVICE_INGESTION
from f1common.schedule import ScheduleError, load_schedule
from f1common.settings import Settings
from f1common.tables import rows_to_table
from ingestion.ingest import fastf1_version
from ingestion.landing import put_manifest, put_table
from ingestion.observability import emit_rows, logger


def land_schedule(season: int, *, s3: Any, settings: Settings, clock: Clock = utc_now) -> Manifest:
    """Loads the season's schedule from FastF1 (f1common.schedule) and lands it; returns the manifest.

    Each call is a new run (schedules change during a season); the loader merges on the natural key
    (season, round, session). An unknown season raises :class:`BadRequest` naming `season`.
    """
    try:
        rows = load_schedule(season, settings)
    except ScheduleError as exc:
        raise BadRequest(f"invalid schedule request: season: {exc}") from None
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
    emit_rows(manifest.rows, season=str(season))
    logger.info("schedule landed", extra={"season": season, "run_id": run_id, "rows": entry.rows})
    return manifest
