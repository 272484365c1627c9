"""The embedded stack as test support: the one harness of every test that runs the platform.

- :func:`embedded_stack` emulates AWS with moto (a server on 127.0.0.1, or in-process), provisions the
  platform's resources through :func:`grandprix_local.stack.provision`, sets the embedded stack's
  environment for its duration (and restores every variable after), and yields an :class:`EmbeddedStack`:
  the services' handlers and plain functions over it, and the DuckDB warehouse the loader writes.
- :data:`SAMPLE_SESSIONS` (checked against the offline catalogue by :func:`sample_sessions`) and
  :func:`cached_sessions` (every session the catalogue serves): the sessions of the shared data.
- :func:`build_warehouse`: a whole warehouse (the local run with dbt), shared by test processes through a cache.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from f1common.clients import aws_client
from f1common.datasets import SESSION_DATASETS, dataset_spec
from f1common.events import CalendarItem
from f1common.layout import MANIFEST_PREFIX, parse_manifest_key
from f1common.manifest import Manifest
from f1common.sessions import SessionId
from f1common.settings import F1DATA_ENV, Settings
from f1common.warehouse import RUN_ID, staging_relation
from grandprix_local.offline_catalogue import offline_sessions
from grandprix_local.pipeline import LocalPipeline, environment
from grandprix_local.stack import moto_in_process, moto_server, patched_environ

# A small but complete sample of the shared FastF1 cache: two conventional race weekends (2023
# Bahrain, whose FastF1 results carry points, and 2023 Australia, whose results lack them), the
# 2023 Azerbaijan sprint weekend (Sprint Shootout format) and 2025 Australia and China (Sprint
# Qualifying format), with qualifying sessions.
SAMPLE_SESSIONS: tuple[str, ...] = (
    "2023-01-R",
    "2023-03-R",
    "2023-04-Q",
    "2023-04-SS",
    "2023-04-S",
    "2025-01-Q",
    "2025-01-R",
    "2025-02-SQ",
    "2025-02-S",
    "2025-02-R",
)

# staging table -> natural key, of every session dataset (f1common's contract)
NATURAL_KEYS = {dataset_spec(d).staging_table.lower(): dataset_spec(d).natural_key for d in SESSION_DATASETS}

CACHE_ENV = "GPI_WAREHOUSE_CACHE"


def cached_sessions(settings: Settings) -> list[SessionId]:
    """Every session the shared FastF1 cache serves offline (the offline catalogue)."""
    return offline_sessions(settings)


def sample_sessions(settings: Settings, keys: Sequence[str] = SAMPLE_SESSIONS) -> list[SessionId]:
    """The sample's sessions; a LookupError names any the offline catalogue does not serve."""
    wanted = [SessionId.parse(k) for k in keys]
    served = set(offline_sessions(settings, {s.season for s in wanted}))
    missing = [s.key for s in wanted if s not in served]
    if missing:
        raise LookupError(f"the shared FastF1 cache does not serve {missing}")
    return wanted


@dataclass
class EmbeddedStack:
    """The platform on emulated AWS: what the tests drive (services' handlers and plain functions) and read."""

    settings: Settings
    pipeline: LocalPipeline
    warehouse: Path
    loaded_keys: set[str] = field(default_factory=set)  # given to the loader by load_new_files

    @property
    def path(self) -> Path:
        return self.warehouse

    @property
    def s3(self) -> Any:
        return aws_client("s3", self.settings)

    @property
    def dynamodb(self) -> Any:
        return aws_client("dynamodb", self.settings)

    # --- landing (the ingestion service's event router) -----------------------------------------

    def ingest(self, key: str, attempt: int = 1) -> dict[str, Any]:
        """One delivery of the ingestion request for `key` to the ingestion service; returns its outcome."""
        from ingestion.handler import route

        session = SessionId.parse(key)
        event = {"season": session.season, "round": session.round, "session": session.session.code, "attempt": attempt}
        return route(event, settings=self.settings, s3=self.s3, dynamodb=self.dynamodb)

    def land_session(self, key: str) -> None:
        """Ingests `key`; raises unless a new run landed."""
        outcome = self.ingest(key)
        if outcome["status"] != "ingested":
            raise RuntimeError(f"ingestion of {key} did not land data: {outcome['status']}: {outcome['message']}")

    def land_ergast(self) -> None:
        """The Ergast history (the shared dump), through the ingestion service."""
        self.pipeline.land_history([])

    def land_schedules(self, seasons: Iterable[int]) -> None:
        self.pipeline.land_history(sorted(set(seasons)), ergast=False)

    # --- loading (the loader, fed by the emulated SQS trigger) -----------------------------------

    def drain(self) -> Any:
        """The loader: every S3 notification on its queue into DuckDB staging; returns the LoadReport."""
        return self.pipeline.drain_loader()

    def load_new_files(self) -> tuple[int, int]:
        """The loader over every landed key not given to it yet (listed from S3, in key order, without the
        queue: for tests that land step by step); raises unless each file loaded. Returns (files, rows) loaded."""
        from loader.duckdb_warehouse import DuckDBWarehouse
        from loader.loading import Outcome, load_keys

        keys = [k for k in self.keys() if k not in self.loaded_keys]
        with DuckDBWarehouse.open(self.warehouse) as warehouse:
            report = load_keys(keys, s3=self.s3, bucket=self.settings.bucket, warehouse=warehouse)
        problems = [r for r in report.results if r.outcome in (Outcome.QUARANTINED, Outcome.PENDING)]
        if problems:
            raise RuntimeError(f"the loader did not load every landed file: {problems}")
        self.loaded_keys.update(keys)
        return len(report.keys(Outcome.LOADED)), report.rows_loaded

    def redeliver(self, keys: Sequence[str], times: int) -> None:
        """S3 notifications for `keys` sent again `times` times (SQS delivers at least once)."""
        sqs = aws_client("sqs", self.settings)
        records = [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": self.settings.bucket}, "object": {"key": key}},
            }
            for key in keys
        ]
        for _ in range(times):
            sqs.send_message(
                QueueUrl=self.pipeline.resources.loader_queue_url, MessageBody=json.dumps({"Records": records})
            )

    # --- reading ----------------------------------------------------------------------------------

    def keys(self, prefix: str = "") -> list[str]:
        from ingestion.landing import list_keys

        return list_keys(self.s3, self.settings.bucket, prefix)

    def manifests(self) -> dict[str, Manifest]:
        out = {}
        for key in self.keys(MANIFEST_PREFIX):
            body = self.s3.get_object(Bucket=self.settings.bucket, Key=key)["Body"].read()
            out[parse_manifest_key(key)] = Manifest.from_json(body)
        return out

    def calendar_item(self, key: str) -> CalendarItem:
        return next(i for i in self.pipeline.calendar() if i.session_id.key == key)

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            return con.execute(sql, list(params)).fetchall()
        finally:
            con.close()

    def session_rows(self, table: str, key: str) -> int:
        """Rows of session `key` in a staging table."""
        return int(self._of_session("count(*)", table, key)[0][0])

    def session_runs(self, table: str, key: str) -> list[str]:
        """The run ids of session `key`'s rows in a staging table."""
        return sorted(str(r[0]) for r in self._of_session(f"distinct {RUN_ID}", table, key))

    def _of_session(self, what: str, table: str, key: str) -> list[tuple[Any, ...]]:
        session = SessionId.parse(key)
        return self.query(
            f"select {what} from {staging_relation(table)} where season = ? and round = ? and session = ?",
            session.season,
            session.round,
            session.session.code,
        )

    def duplicates(self, table: str) -> int:
        """Rows beyond the first of each natural key in a staging table."""
        columns = ", ".join(NATURAL_KEYS[table])
        rows = self.query(f"select count(*) - count(distinct ({columns})) from {staging_relation(table)}")
        return int(rows[0][0])


@contextmanager
def embedded_stack(
    work_dir: Path,
    *,
    f1data_dir: Path | None = None,
    fastf1_cache: Path | None = None,
    in_process: bool = False,
    notifications: bool = True,
) -> Iterator[EmbeddedStack]:
    """The embedded stack under `work_dir` (warehouse `work_dir/warehouse.duckdb`) for the duration.

    `fastf1_cache`: a writable FastF1 cache to share between stacks (default: a copy under `work_dir`);
    `in_process`: moto inside the process instead of a server on 127.0.0.1 (faster, no other process reaches it).
    """
    warehouse = work_dir / "warehouse.duckdb"
    env: dict[str, str | None] = {**environment(work_dir, warehouse)}
    data = f1data_dir or Settings().f1data_dir
    if data is not None:
        env[F1DATA_ENV] = str(data)
    if fastf1_cache is not None:
        env["GPI_FASTF1_CACHE_DIR"] = str(fastf1_cache)
    with patched_environ(env), moto_in_process() if in_process else moto_server():
        settings = Settings()
        pipeline = LocalPipeline(settings, progress=lambda line: None)
        if notifications:
            pipeline.enable_notifications()
        yield EmbeddedStack(pipeline.settings, pipeline, warehouse)


def run_dbt_facts(warehouse: Path, artifacts: Path) -> Any:
    """`dbt run` of the laps fact and what it needs (the rest of the project has no bearing here)."""
    from dbt_runner.runner import run_dbt

    return run_dbt(["run", "--select", "+fct_laps", "--quiet"], warehouse_path=warehouse, artifacts_dir=artifacts)


# --- a whole warehouse, cached --------------------------------------------------------------------


def build_warehouse(
    path: Path,
    *,
    settings: Settings | None = None,
    sessions: Sequence[str] = SAMPLE_SESSIONS,
    dbt: bool = True,
    cache: bool = True,
) -> Path:
    """Builds (or copies from the shared cache) a warehouse with `sessions` + the Ergast history.

    The local run (moto, scheduler replay, ingestion, loader, Ergast backfill, calendar export, the transformer's
    `dbt build`)
    into a DuckDB file. Test processes that need the same warehouse share one build: it is cached under the
    user cache directory, keyed by the sessions and by the content of every file of the code that builds it,
    and guarded by a file lock.
    """
    settings = settings or Settings()
    keys = sorted(SessionId.parse(k).key for k in sessions)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cache:
        return _build(path, keys, settings, dbt)
    cache_dir = Path(os.environ.get(CACHE_ENV) or _user_cache() / "warehouses")
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = _cache_key(keys, settings, dbt)
    cached = cache_dir / f"{key}.duckdb"
    with (cache_dir / f"{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one process builds, the others wait and copy
        if not cached.exists():
            staging = Path(tempfile.mkdtemp(prefix="warehouse-", dir=cache_dir))
            try:
                _build(staging / "warehouse.duckdb", keys, settings, dbt)
                os.replace(staging / "warehouse.duckdb", cached)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    shutil.copyfile(cached, path)
    return path


def _build(path: Path, keys: Sequence[str], settings: Settings, dbt: bool) -> Path:
    from grandprix_local.run import RunOptions, run_local

    if settings.f1data_dir is None:
        raise FileNotFoundError("the shared F1 data is needed to build a test warehouse (set GPI_F1DATA_DIR)")
    sample_sessions(settings, keys)  # every one served by the shared cache
    state = Path(tempfile.mkdtemp(prefix="gpi-state-"))
    try:
        options = RunOptions(
            state_dir=state,
            sessions=[SessionId.parse(k) for k in keys],
            data_dir=settings.f1data_dir,
            dbt=dbt,
            dashboards=False,
        )
        summary = run_local(options, progress=lambda line: None)
        if not summary.ok or summary.replay.errors:
            raise RuntimeError(f"the local pipeline failed: {summary.lines()}")
        shutil.copyfile(options.warehouse, path)
        return path
    finally:
        shutil.rmtree(state, ignore_errors=True)


def _user_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "grandprix-insights"


def _cache_key(keys: Sequence[str], settings: Settings, dbt: bool) -> str:
    """Sessions + data location + the content of every source file that shapes the warehouse."""
    import f1common
    import grandprix_dashboards
    import grandprix_local
    import ingestion
    import loader
    import scheduler
    import transformer
    from dbt_runner.runner import PROJECT_DIR

    digest = hashlib.sha256(repr((keys, str(settings.f1data_dir), dbt)).encode())
    modules = (f1common, ingestion, loader, scheduler, transformer, grandprix_local, grandprix_dashboards)
    roots = [Path(str(m.__file__)).parent for m in modules]
    for file in sorted(_files([*roots, PROJECT_DIR])):
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:20]


SOURCE_SUFFIXES = {".py", ".sql", ".yml", ".yaml", ".csv"}  # .csv: the dbt seeds (the championship regulations)


def _files(roots: Iterable[Path]) -> Iterable[Path]:
    for root in roots:
        for file in root.rglob("*"):
            if file.is_file() and file.suffix in SOURCE_SUFFIXES and "target" not in file.parts:
                yield file
