"""The whole pipeline on the embedded stack: calendar -> schedules -> ingestion -> S3 -> SQS -> loader
-> DuckDB staging -> dbt -> dashboards, with a simulated clock replaying the race weekends.

Every stage calls the services' own code paths (handlers and plain functions) against moto, so what
runs here is what runs in the cloud, minus the things moto cannot do (it never fires schedules: the
local dispatcher, `grandprix_local.dispatcher`, does; it cannot invoke Lambdas: handlers are called in-process).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from f1common.events import CalendarItem, CalendarStatus
from f1common.schedule import expected_end, load_schedule
from f1common.sessions import SessionId
from f1common.settings import Settings

Progress = Callable[[str], None]

# What a worker process started ahead imports: FastF1 (imported by the first load otherwise, and most of a worker's
# start), then the ingestion handler, whose init phase it runs (its settings and AWS clients).
WORKER_PRELOAD = ("fastf1", "ingestion.handler:warm")
# The expected cost of an ingestion by session type, relative: the batch's longest start first. From the mean bare
# FastF1 load by type over the 33 cached sessions (`bench/pipeline_bench.py` prints it): a practice session loads
# nearly as long as a race (an hour of timing data with every car on track), a qualifying or sprint a little less.
# Landings (schedules, the history) and unlisted types cost 1.
SESSION_COST = {"R": 4.0, "FP1": 3.8, "FP2": 3.8, "FP3": 3.8, "SS": 3.5, "Q": 3.2, "S": 2.9, "SQ": 2.7}

# Keep service logs and EMF metrics (JSON on stdout in Lambda) out of the demo's progress output.
QUIET_SERVICES = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}


@dataclass
class StageTimer:
    progress: Progress
    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.progress(f"==> {name}")
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            self.seconds[name] = self.seconds.get(name, 0.0) + elapsed
            self.progress(f"    {name}: {elapsed:.1f} s")


@dataclass
class Replay:
    firings: int = 0
    ingested: list[str] = field(default_factory=list)
    not_available: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    files_loaded: int = 0
    rows_loaded: int = 0
    quarantined: int = 0


class LocalPipeline:
    """The pipeline's stages against an emulated AWS (moto) and a DuckDB warehouse."""

    def __init__(self, settings: Settings, progress: Progress = print) -> None:
        from grandprix_local.stack import provision

        self.progress = progress
        self.resources = provision(settings, notifications=False)
        # the stack's DLQ is known once provisioned: given to the services' settings, as the cloud's environment
        # gives it, so that the scheduler does not look it up over SQS at every run (each replay tick)
        if settings.ingestion_dlq_arn is None:
            settings = settings.model_copy(update={"ingestion_dlq_arn": self.resources.dlq_arn})
        self.settings = settings
        self.last_transform: Any = None  # the transformer's last Outcome (deliver_transformer_queue)
        self._workers: Any = None  # the replay's worker processes, when started ahead (:meth:`workers`)
        self._warehouse: Any = None  # the loader's warehouse, while held open (:meth:`loading`)

    @contextmanager
    def workers(self, concurrency: int | None = None) -> Iterator[None]:
        """Starts the ingestion's worker processes now, for every replay and landing inside: they import the
        ingestion (and FastF1) while the caller syncs the calendar. Only with a moto server (which the workers
        reach); otherwise the dispatcher's threads run them, as without this."""
        from grandprix_local.dispatcher import WorkerPool
        from grandprix_local.stack import moto_is_a_server

        size = _concurrency(concurrency)
        if self._workers is not None or size == 1 or not moto_is_a_server():
            yield
            return
        self._workers = WorkerPool(size, "processes", WORKER_PRELOAD).start()
        try:
            yield
        finally:
            workers, self._workers = self._workers, None
            workers.close()

    # --- AWS-side state -------------------------------------------------------------------------

    def enable_notifications(self) -> None:
        from grandprix_local.stack import enable_notifications

        enable_notifications(self.settings)

    def _scheduler_clients(self) -> Any:
        from scheduler.actions import Clients

        return Clients.from_settings(self.settings)

    def sync_calendar(self, sessions: Sequence[SessionId]) -> dict[str, int]:
        """Loads the seasons' official schedules into the race calendar, limited to `sessions`."""
        from scheduler.actions import run_event

        wanted = {s.key for s in sessions}
        seasons = sorted({s.season for s in sessions})

        def load(season: int) -> list[Any]:
            return [r for r in load_schedule(season, self.settings) if _row_key(r) in wanted]

        counts: dict[str, int] = {}
        for season in seasons:
            event = {"action": "sync", "season": season}
            result = run_event(event, self.settings, self._scheduler_clients(), load=load)
            for key, value in result["counts"].items():
                counts[key] = counts.get(key, 0) + value
        return counts

    def land_requested_schedules(self) -> dict[str, Any]:
        """Fires now the schedule landings the calendar sync asked for (its one-time `land-schedule-*`
        schedules, as EventBridge Scheduler fires them a minute after the sync in the cloud): the ingestion
        handler lands each season's schedule dataset when it changed. Returns each landing's outcome."""
        from scheduler.schedules import LANDING_PREFIX

        dispatcher = self._dispatcher(self._scheduler_clients())
        requested = [s for s in dispatcher.schedules() if s.name.startswith(f"{LANDING_PREFIX}-")]
        out: dict[str, Any] = {}
        for firing in dispatcher.fire_all(requested):
            season = firing.payload.get("season")
            if not firing.ok:
                out[f"schedule {season}"] = f"failed: {firing.error}"
            elif firing.result.get("skipped"):
                out[f"schedule {season}"] = "unchanged (already landed)"
            else:
                out[f"schedule {season}"] = firing.result["rows"]
        return out

    def _dispatcher(self, clients: Any, **options: Any) -> Any:
        """The local stand-in for EventBridge Scheduler, delivering to the ingestion handler in-process."""
        from grandprix_local.dispatcher import Dispatcher
        from ingestion.handler import handler as ingestion_handler

        handlers = {self.resources.ingestion_function_arn: ingestion_handler}
        return Dispatcher(clients.scheduler, clients.sqs, self.settings.group, handlers, **options)

    def calendar(self) -> list[CalendarItem]:
        from f1common.race_calendar import RaceCalendar

        return RaceCalendar(self._aws("dynamodb"), self.settings.table).scan().items

    # --- replay ---------------------------------------------------------------------------------

    def replay(
        self,
        sessions: Sequence[SessionId],
        *,
        after_each: Callable[[], Any] | None = None,
        concurrency: int | None = None,
    ) -> Replay:
        """Time machine: replays the calendar's sessions with a simulated clock, as if they were live.

        The scheduler's recurring action runs hourly (idle hours skipped); the dispatcher fires each
        one-time schedule at its instant by calling the ingestion handler, up to `concurrency` at once
        (default: the number of cores; the claims keep each session exactly-once); after each firing, in
        the dispatcher's deterministic order, the outcome is recorded and the loader drains the S3
        notifications from SQS into DuckDB.
        """
        from f1common.clock import SimulatedClock

        pending = self._pending(sessions)
        if not pending:
            return Replay()
        start = min(i.start_utc for i in pending) - dt.timedelta(hours=1)
        until = max(i.end_utc for i in pending) + dt.timedelta(hours=self.settings.retry_limit_hours + 3)
        return self._dispatch(SimulatedClock(start), until, after_each, concurrency)

    def catch_up(
        self,
        sessions: Sequence[SessionId],
        *,
        after_each: Callable[[], Any] | None = None,
        concurrency: int | None = None,
    ) -> Replay:
        """Past sessions the cloud's way: the scheduler's backfill (never-tried sessions, at the instants its
        FastF1 rate limiter books from now on: several within each hour), then the replay from now, whose
        hourly scheduler runs retry what was not available. The schedules due within one hour run as one
        concurrent batch, as the cloud runs them as independent Lambda invocations."""
        from f1common.clock import SimulatedClock, utc_now
        from scheduler.actions import run_event

        pending = self._pending(sessions)
        if not pending:
            return Replay()
        now = utc_now()
        seasons = sorted({i.season for i in pending})
        event = {"action": "backfill", "from_season": seasons[0], "to_season": seasons[-1], "sync": False,
                 "retry_failed": False}  # fmt: skip
        booked = run_event(event, self.settings, self._scheduler_clients(), now=now)
        last = dt.datetime.fromisoformat(booked["last_at"]) if booked["last_at"] else now
        until = last + dt.timedelta(hours=self.settings.retry_limit_hours + 3)
        return self._dispatch(SimulatedClock(now), until, after_each, concurrency)

    def all_due(self, sessions: Sequence[SessionId]) -> bool:
        """Whether every session of `sessions` still to ingest should have its data published by now."""
        from f1common.clock import utc_now
        from scheduler.planning import SchedulingPolicy

        policy, now = SchedulingPolicy.from_settings(self.settings), utc_now()
        return all(policy.available_at(i) <= now for i in self._pending(sessions))

    def _pending(self, sessions: Sequence[SessionId]) -> list[CalendarItem]:
        wanted = {s.key for s in sessions}
        done = (CalendarStatus.INGESTED, CalendarStatus.CANCELLED)
        return [i for i in self.calendar() if i.session_id.key in wanted and i.status not in done]

    def _dispatch(
        self, clock: Any, until: dt.datetime, after_each: Callable[[], Any] | None, concurrency: int | None
    ) -> Replay:
        """Runs the dispatcher's replay from `clock` to `until`, the scheduler's recurring action as its tick,
        the ingestions on worker processes (they reach the embedded stack's moto server), and records each
        firing in order."""
        from grandprix_local.dispatcher import Firing, scheduler_tick
        from grandprix_local.stack import moto_is_a_server

        result = Replay()

        def record(firing: Firing) -> None:
            event = firing.payload
            if event.get("kind") == "schedule":  # a sync's schedule landing, due during the replay
                self.progress(f"    [{firing.at:%Y-%m-%d %H:%M}Z] schedule {event.get('season')}: ok={firing.ok}")
                return
            key = SessionId(season=event["season"], round=event["round"], session=event["session"]).key
            outcome = firing.result if isinstance(firing.result, dict) else {}
            status = outcome.get("status", "failed" if not firing.ok else None)
            {"ingested": result.ingested, "not_available": result.not_available}.get(
                str(status), result.duplicates if firing.ok else []
            ).append(key)
            rows = sum(outcome.get("rows", {}).values())
            note = f"{rows} rows landed" if status == "ingested" else outcome.get("message", firing.error or "")
            attempt = event.get("attempt", 1)
            self.progress(f"    [{firing.at:%Y-%m-%d %H:%M}Z] {key} attempt {attempt}: {status} {note}".rstrip())
            if after_each is not None:
                after_each()

        clients = self._scheduler_clients()
        workers = "processes" if moto_is_a_server() else "threads"
        pool = self._workers if self._workers is not None and self._workers.size == _concurrency(concurrency) else None
        dispatcher = self._dispatcher(
            clients,
            clock=clock,
            on_fire=record,
            concurrency=concurrency,
            worker_kind=workers,
            cost=ingestion_cost,
            pool=pool,
        )
        firings = dispatcher.replay(until, tick=scheduler_tick(self.settings, clients))
        result.firings = len(firings)
        result.errors = [f"{f.schedule}: {f.error}" for f in firings if not f.ok]
        return result

    # --- landing outside the calendar -------------------------------------------------------------

    def begin_history(self) -> HistoryLanding:
        """The Ergast history backfill, delivered to the ingestion handler on one of the started workers
        (:meth:`workers`) and running alongside what the caller does next (the replay), as in the cloud, where
        it is an invocation of its own; without started workers it lands when awaited. The loader drains its
        files with the replay's. Await it with :meth:`HistoryLanding.result`."""
        from concurrent.futures.process import BrokenProcessPool

        from f1common.lambda_context import LocalContext
        from ingestion.handler import handler as ingestion_handler

        if self._workers is None or self.settings.ergast_dir is None:
            return HistoryLanding(lambda: self.land_history([]))
        arn = self.resources.ingestion_function_arn
        context = LocalContext(function_name=arn.rsplit(":", 1)[-1], invoked_function_arn=arn)
        future = self._workers.submit((ingestion_handler, {"kind": "ergast_backfill"}, context, 1, "ergast-backfill"))

        def result() -> dict[str, Any]:
            try:
                delivery = future.result()
            except BrokenProcessPool:  # a replay's worker died beside it: land it here (an unchanged dump: nothing)
                return self.land_history([])
            if delivery.error is not None:
                raise RuntimeError(f"the Ergast history backfill failed: {delivery.error}")
            landed = delivery.result
            return {"ergast": "unchanged (already landed)" if landed["skipped"] else landed["rows"]}

        return HistoryLanding(result, future)

    def land_history(self, seasons: Sequence[int], *, ergast: bool = True) -> dict[str, Any]:
        """The Ergast history backfill (unless `ergast` is false) and each season's schedule, through the
        ingestion service's event router."""
        from ingestion.handler import route

        s3, ddb = self._s3(), self._aws("dynamodb")
        out: dict[str, Any] = {}
        if ergast and self.settings.ergast_dir is not None:
            result = route({"kind": "ergast_backfill"}, settings=self.settings, s3=s3, dynamodb=ddb)
            out["ergast"] = "unchanged (already landed)" if result["skipped"] else result["rows"]
        for season in seasons:
            result = route({"kind": "schedule", "season": season}, settings=self.settings, s3=s3, dynamodb=ddb)
            out[f"schedule {season}"] = result["rows"]
        return out

    # --- warehouse ------------------------------------------------------------------------------

    @contextmanager
    def loading(self) -> Iterator[None]:
        """Keeps the loader's warehouse open for every drain inside (:meth:`drain_loader`), as a warm loader Lambda
        keeps its connection: a replay's drains, one after each firing, then open the DuckDB file (and check its
        staging schema) once, not once each. Nothing else may open the file meanwhile (dbt, the health check)."""
        from loader.duckdb_warehouse import DuckDBWarehouse

        if self._warehouse is not None:
            yield
            return
        self._warehouse = DuckDBWarehouse.open(self.settings.warehouse_path)
        try:
            yield
        finally:
            warehouse, self._warehouse = self._warehouse, None
            warehouse.close()

    def drain_loader(self, totals: Replay | None = None) -> Any:
        """The loader queue into the warehouse (the one held open by :meth:`loading`, else opened for this drain)."""
        from grandprix_local.sqs_trigger import drain_queue

        with self.loading():
            warehouse = self._warehouse
            queue, bucket = self.resources.loader_queue_url, self.settings.bucket
            report = drain_queue(self._aws("sqs"), queue, s3=self._s3(), bucket=bucket, warehouse=warehouse)
        if totals is not None:
            counts = report.counts
            totals.files_loaded += counts.get("loaded", 0)
            totals.quarantined += counts.get("quarantined", 0)
            totals.rows_loaded += report.rows_loaded
        return report

    @contextmanager
    def loader_trigger(self, totals: Replay | None = None) -> Iterator[Callable[[], None]]:
        """The loader queue drained on a thread beside the caller (:meth:`drain_loader`, adding to `totals`), as
        the queue's event source mapping polls it while the ingestions run: the callable yielded says that messages
        may have arrived (give it as a replay's `after_each`: the next batch of ingestions then starts while the
        last one's files load). At the end what is left is drained. Inside :meth:`loading` (entered here if it is
        not), the warehouse is the thread's alone until then."""
        from grandprix_local.sqs_trigger import BackgroundDrain

        with self.loading():
            self._aws("sqs"), self._s3()  # the clients made here: creating one is not thread-safe
            trigger = BackgroundDrain(lambda: self.drain_loader(totals), name="loader-trigger")
            try:
                yield trigger.kick
            finally:
                trigger.close()

    def deliver_transformer_queue(self) -> Any:
        """One delivery of the transformer queue (landed manifests, build requests) to the transformer's handler:
        the build after a load, started the way the cloud starts it. Returns the trigger's Delivery."""
        from grandprix_local.sqs_trigger import deliver
        from transformer.handler import handle

        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            self.last_transform = handle(event, context)
            return self.last_transform.batch_response()

        return deliver(
            self._aws("sqs"),
            self.resources.transformer_queue_url,
            handler,
            function_name=self.settings.names.transformer_function,
        )

    def request_transform(self, *, full_refresh: bool = False) -> None:
        """An operator's build request on the transformer queue (what `grandprix cloud transform` sends)."""
        from f1common.transform import TransformRequest

        body = TransformRequest(kind="manual", full_refresh=full_refresh).model_dump_json()
        self._aws("sqs").send_message(QueueUrl=self.resources.transformer_queue_url, MessageBody=body)

    def check_health(self) -> dict[str, Any]:
        """The loader's hourly health Lambda, as the cloud runs it, on the DuckDB file: the recent runs' files
        against the loader's bookkeeping, the findings into `staging.load_health`, then the race calendar
        exported to `staging.race_calendar`. Returns the handler's summary."""
        from f1common.lambda_context import LocalContext
        from loader.handler import health_handler

        name = f"{self.settings.names.loader_function}-health"
        return health_handler({}, LocalContext(name, f"local:{name}"))  # type: ignore[arg-type]

    def _aws(self, service: str) -> Any:
        from f1common.clients import aws_client

        return aws_client(service, self.settings)

    def _s3(self) -> Any:
        return self._aws("s3")


@dataclass
class HistoryLanding:
    """A history backfill under way (:meth:`LocalPipeline.begin_history`): `result` waits for its outcome."""

    result: Callable[[], dict[str, Any]]
    future: Future[Any] | None = None  # its delivery on a worker; None: it lands when awaited


def ingestion_cost(schedule: Any) -> float:
    """The dispatcher's cost estimate of a delivery to the ingestion handler: by session type (SESSION_COST)."""
    payload = json.loads(schedule.input)
    if payload.get("kind", "session") != "session":
        return 1.0
    return SESSION_COST.get(str(payload.get("session")), 1.0)


def _concurrency(concurrency: int | None) -> int:
    return max(1, concurrency or os.cpu_count() or 1)


def _row_key(row: Any) -> str:
    return f"{row.season:04d}-{row.round:02d}-{row.session}"


def environment(state_dir: Path, warehouse: Path) -> dict[str, str]:
    """Environment of the embedded stack's services (read by Settings in every handler)."""
    region = os.environ.get("AWS_DEFAULT_REGION", "eu-west-1")
    return {
        "GPI_STAGE": "local",
        "GPI_WAREHOUSE": "duckdb",
        "GPI_WAREHOUSE_PATH": str(warehouse.resolve()),
        "GPI_FASTF1_CACHE_DIR": str((state_dir / "fastf1-cache").resolve()),
        "GPI_TRANSFORMER_ARTIFACTS_DIR": str((state_dir / "dbt").resolve()),
        "GPI_FASTF1_LOG_LEVEL": os.environ.get("GPI_FASTF1_LOG_LEVEL", "ERROR"),
        "AWS_DEFAULT_REGION": region,
        **QUIET_SERVICES,
    }


__all__ = ["LocalPipeline", "Replay", "StageTimer", "environment", "expected_end"]
