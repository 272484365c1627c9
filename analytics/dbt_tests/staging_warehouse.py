"""Builds a DuckDB warehouse with real staging data through the project's own ingestion and loader.

The dbt tests run on it: Ergast history from the shared dump, FastF1 seasons' schedules and the
FastF1 sessions of the shared cache, each landed in an emulated S3 bucket (moto, in-process) by the
ingestion service and loaded into `staging` by the loader, exactly as in the cloud pipeline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from f1common.events import IngestionRequest
from f1common.sessions import SessionId
from f1common.settings import Settings

# The sessions of the shared FastF1 cache (f1data/README.md), i.e. all FastF1 data there is offline.
CACHED_SESSIONS: tuple[str, ...] = (
    "2018-01-R", "2018-04-R", "2019-14-Q", "2021-18-Q", "2022-02-Q",
    "2023-01-R", "2023-03-R", "2023-04-Q", "2023-04-SS", "2023-04-S", "2023-10-R",
    "2024-03-R", "2024-05-SQ", "2024-10-Q", "2024-18-R", "2024-24-R",
    "2025-01-Q", "2025-01-R", "2025-02-SQ", "2025-02-S", "2025-02-R", "2025-03-Q", "2025-03-R",
    "2025-04-R", "2025-05-Q", "2025-05-R", "2025-06-S", "2025-06-Q", "2025-06-R",
)  # fmt: skip


@dataclass(frozen=True)
class LoadSummary:
    sessions: tuple[str, ...]
    files_loaded: int
    rows_loaded: int


class StagingWarehouse:
    """An emulated landing zone (moto S3 + DynamoDB) feeding one DuckDB warehouse file."""

    def __init__(self, settings: Settings, s3: Any, dynamodb: Any) -> None:
        self.settings = settings
        self.s3 = s3
        self.dynamodb = dynamodb
        self._loaded_keys: set[str] = set()

    @property
    def path(self) -> Path:
        return self.settings.warehouse_path

    def land_ergast(self) -> None:
        from ingestion.ergast_landing import land_ergast

        if self.settings.ergast_dir is None:
            raise FileNotFoundError("no Ergast dump: set GPI_F1DATA_DIR to the shared f1data directory")
        land_ergast(self.settings.ergast_dir, s3=self.s3, settings=self.settings, progress=lambda line: None)

    def land_schedules(self, seasons: Iterable[int]) -> None:
        from ingestion.schedule_landing import land_schedule

        for season in sorted(set(seasons)):
            land_schedule(season, s3=self.s3, settings=self.settings)

    def ingest(self, session_key: str) -> None:
        from f1common.events import OutcomeStatus
        from ingestion.ingest import ingest_session

        session = SessionId.parse(session_key)
        outcome = ingest_session(
            IngestionRequest.for_session(session, reason="backfill", requested_at=dt.datetime.now(dt.timezone.utc)),
            s3=self.s3,
            dynamodb_table_or_client=self.dynamodb,
            settings=self.settings,
        )
        if outcome.status is not OutcomeStatus.INGESTED:
            status = outcome.status.value
            raise RuntimeError(f"ingestion of {session_key} did not land data: {status}: {outcome.message}")

    def load_new_files(self) -> tuple[int, int]:
        """Runs the loader on every landed key it has not seen yet; returns (files, rows) loaded."""
        from loader.duckdb_warehouse import DuckDBWarehouse
        from loader.loading import Outcome, load_keys

        keys = [k for k in self._all_keys() if k not in self._loaded_keys]
        with DuckDBWarehouse.open(self.path) as warehouse:
            report = load_keys(keys, s3=self.s3, bucket=self.settings.bucket, warehouse=warehouse)
        problems = [r for r in report.results if r.outcome in (Outcome.QUARANTINED, Outcome.PENDING)]
        if problems:
            raise RuntimeError(f"the loader did not load every landed file: {problems}")
        self._loaded_keys.update(keys)
        return sum(1 for r in report.results if r.outcome is Outcome.LOADED), report.rows_loaded

    def _all_keys(self) -> list[str]:
        keys: list[str] = []
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.settings.bucket):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return sorted(keys)


@contextmanager
def staging_warehouse(
    warehouse_path: Path, work_dir: Path, settings: Settings | None = None
) -> Iterator[StagingWarehouse]:
    """An emulated landing zone in moto (in-process) with a writable FastF1 cache copy under `work_dir`."""
    import os

    from moto import mock_aws

    from f1common.clients import aws_client, clear_client_cache

    base = settings or Settings()
    settings = base.model_copy(
        update={
            "stage": "dbt-test",
            "warehouse_path": warehouse_path,
            "fastf1_cache_dir": work_dir / "fastf1-cache",
            "aws_endpoint_url": None,
        }
    )
    settings.__dict__.pop("names", None)  # a cached ResourceNames of the base stage must not carry over
    # moto in-process: no emulator endpoint, fake credentials; everything is restored afterwards
    names = ("AWS_ENDPOINT_URL", "GPI_AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    saved = {k: os.environ.pop(k, None) for k in names}
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    clear_client_cache()
    try:
        with mock_aws():
            from grandprix_local.stack import provision

            provision(settings, notifications=False)
            yield StagingWarehouse(settings, aws_client("s3", settings), aws_client("dynamodb", settings))
    finally:
        clear_client_cache()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def build(warehouse_path: Path, work_dir: Path, sessions: Iterable[str] = CACHED_SESSIONS) -> LoadSummary:
    """Lands and loads Ergast, the schedules and the given sessions into a new warehouse file."""
    sessions = tuple(sessions)
    with staging_warehouse(warehouse_path, work_dir) as landing:
        landing.land_ergast()
        landing.land_schedules(SessionId.parse(s).season for s in sessions)
        for key in sessions:
            landing.ingest(key)
        files, rows = landing.load_new_files()
    return LoadSummary(sessions, files, rows)
