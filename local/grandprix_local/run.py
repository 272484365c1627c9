"""`grandprix local run`: the main job on one machine, stage by stage, with a summary at the end."""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from f1common.events import CalendarStatus
from f1common.sessions import SessionId
from f1common.settings import F1DATA_ENV, Settings
from f1common.warehouse import STAGING_SCHEMA
from grandprix_local.pipeline import LocalPipeline, Progress, Replay, StageTimer, environment


@dataclass(frozen=True)
class RunOptions:
    state_dir: Path = Path(".local")
    seasons: Sequence[int] | None = None
    sessions: Sequence[SessionId] | None = None
    data_dir: Path | None = None
    fresh: bool = False
    dbt: bool = True
    dashboards: bool = True
    concurrency: int | None = None  # ingestions at once in the replay (default: the number of cores)

    @property
    def warehouse(self) -> Path:
        return self.state_dir / "warehouse.duckdb"

    @property
    def aws_state(self) -> Path:
        return self.state_dir / "aws"

    @property
    def dashboards_dir(self) -> Path:
        return self.state_dir / "dashboards"


@dataclass
class RunSummary:
    sessions_requested: int = 0
    replay: Replay = field(default_factory=Replay)
    calendar: dict[str, int] = field(default_factory=dict)
    health: dict[str, int] = field(default_factory=dict)  # files of the recent runs by load-health status
    staging_rows: dict[str, int] = field(default_factory=dict)
    fact_rows: dict[str, int] = field(default_factory=dict)
    dlq_messages: int = 0
    dbt: str = "skipped"
    dashboards: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    total_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.replay.errors and self.dbt in ("ok", "skipped")

    def lines(self) -> list[str]:
        r = self.replay
        out = [
            "",
            "=== summary",
            f"sessions requested: {self.sessions_requested}; calendar: "
            + ", ".join(f"{k} {v}" for k, v in sorted(self.calendar.items())),
            f"this run: {len(r.ingested)} sessions ingested, {len(r.not_available)} not available yet (retried), "
            f"{len(r.duplicates)} duplicates; {r.files_loaded} files / {r.rows_loaded} rows loaded, "
            f"{r.quarantined} quarantined; {len(r.errors)} dispatch errors; DLQ messages: {self.dlq_messages}",
            "load health (files of the last day's runs): " + ", ".join(f"{k} {v}" for k, v in self.health.items()),
            "staging rows: " + ", ".join(f"{k} {v}" for k, v in self.staging_rows.items()),
            "fact rows: " + ", ".join(f"{k} {v}" for k, v in self.fact_rows.items()),
            f"dbt build: {self.dbt}",
        ]
        failed = [k for k in r.not_available if k not in r.ingested]
        if failed:
            out.append(f"not ingested (no data in the source yet): {', '.join(sorted(set(failed)))}")
        out += [f"dashboard: {p}" for p in self.dashboards]
        out.append("time per stage: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items()))
        out.append(f"total: {self.total_seconds:.1f} s")
        return out


def run_local(options: RunOptions, progress: Progress = lambda line: print(line, flush=True)) -> RunSummary:
    """The whole job; the embedded stack's environment (:func:`environment`) is set for it, then restored."""
    from grandprix_local.stack import patched_environ

    if options.fresh and options.state_dir.exists():
        for child in options.state_dir.iterdir():
            if child.name != "fastf1-cache":  # a copy of the shared cache: keep it
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    options.state_dir.mkdir(parents=True, exist_ok=True)
    env = environment(options.state_dir, options.warehouse)
    if options.data_dir is not None:
        env[F1DATA_ENV] = str(options.data_dir.resolve())
    with patched_environ(env):
        return _run(options, progress)


def _run(options: RunOptions, progress: Progress) -> RunSummary:
    from grandprix_local.stack import moto_server
    from grandprix_local.state import restore_state, save_state

    started = time.perf_counter()
    summary = RunSummary()
    timer = StageTimer(progress)
    with moto_server() as endpoint, contextlib.ExitStack() as workers:
        settings = Settings()
        with timer.stage(f"embedded AWS (moto at {endpoint})"):
            pipeline = LocalPipeline(settings, progress)
            # the ingestion's worker processes start now and import while the state is restored
            workers.enter_context(pipeline.workers(options.concurrency))
            restored = restore_state(settings, options.aws_state)
            pipeline.enable_notifications()
            progress(f"    restored {restored['calendar_items']} calendar items, {restored['objects']} objects")
            # the Ergast history lands on a worker alongside what follows, once what landed before is restored and
            # new objects are notified (always: the facts take drivers' and teams' identities from it; an unchanged
            # dump lands nothing)
            history = pipeline.begin_history()
        with timer.stage("sessions to replay"):
            sessions = list(options.sessions or _available_sessions(settings, options.seasons))
            summary.sessions_requested = len(sessions)
            progress(f"    {len(sessions)} sessions: {', '.join(s.key for s in sessions)}")
        with timer.stage("race calendar sync (scheduler)"):
            counts = pipeline.sync_calendar(sessions)
            progress(f"    {counts}")
        totals = Replay()
        with pipeline.loading():  # the loader's warehouse, open for the drains below
            with timer.stage("season schedules (the sync's requests -> ingestion)"):
                for name, rows in pipeline.land_requested_schedules().items():
                    progress(f"    {name}: {rows}")
                pipeline.drain_loader(totals)
            with timer.stage("replay: scheduler -> dispatcher -> ingestion -> S3 -> SQS -> loader"):
                # past sessions as the cloud catches up on them (a backfill, several an hour, concurrently); live ones
                # with the time machine
                replay_sessions = pipeline.catch_up if pipeline.all_due(sessions) else pipeline.replay
                with pipeline.loader_trigger(totals) as landed:  # the loader drains beside the dispatcher
                    replay = replay_sessions(sessions, after_each=landed, concurrency=options.concurrency)
                replay.files_loaded, replay.rows_loaded, replay.quarantined = (
                    totals.files_loaded,
                    totals.rows_loaded,
                    totals.quarantined,
                )
                summary.replay = replay
            with timer.stage("history: Ergast backfill (landed alongside the replay) -> loader"):
                for name, rows in history.result().items():
                    progress(f"    {name}: {rows}")
                report = pipeline.drain_loader(summary.replay)
                progress(f"    loader: {report.counts}, {report.rows_loaded} rows")
        workers.close()  # the replay's workers: done
        with timer.stage("load health + calendar export (the loader's health check)"):
            items = pipeline.calendar()
            summary.calendar = _count_statuses(items)
            health = pipeline.check_health()
            summary.health = health["files"]
            progress(f"    files: {health['files']}; calendar: {health['calendar']['exported']} sessions exported")
            summary.dlq_messages = _queue_depth(settings, pipeline.resources.dlq_url)
        if options.dbt:
            with timer.stage("transformer queue -> transformer (dbt, local target)"):
                summary.dbt = _transform(pipeline, progress)
        with timer.stage("save state"):
            saved = save_state(settings, options.aws_state)
            progress(f"    {saved}")

    if options.dashboards:
        with timer.stage("dashboards: Grafana JSON + provisioning, HTML/PNG preview"):
            summary.dashboards = _dashboards(options, progress)
    summary.staging_rows, summary.fact_rows = _row_counts(options.warehouse)
    summary.seconds = timer.seconds
    summary.total_seconds = time.perf_counter() - started
    for line in summary.lines():
        progress(line)
    return summary


def _available_sessions(settings: Settings, seasons: Sequence[int] | None) -> list[SessionId]:
    """Offline: what the shared FastF1 cache serves. Online: every past session of `seasons`."""
    from grandprix_local.offline_catalogue import offline_sessions

    if settings.offline:
        return offline_sessions(settings, seasons)
    if not seasons:
        raise SystemExit("without the shared F1 data, name the seasons to fetch live: --seasons 2024 (or --sessions)")
    from f1common.clock import utc_now
    from f1common.schedule import expected_end, load_schedule
    from f1common.sessions import SessionType

    now = utc_now()
    return [
        SessionId(season=r.season, round=r.round, session=SessionType.parse(r.session))
        for season in seasons
        for r in load_schedule(season, settings)
        if (end := expected_end(r)) is not None and end < now
    ]


def _count_statuses(items: Sequence[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item.status.value] = counts.get(item.status.value, 0) + 1
    return {k: counts[k] for k in sorted(counts, key=lambda s: list(CalendarStatus).index(CalendarStatus(s)))}


def _queue_depth(settings: Settings, url: str) -> int:
    from f1common.clients import aws_client

    attrs = aws_client("sqs", settings).get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"])


def _transform(pipeline: LocalPipeline, progress: Progress) -> str:
    """The landed manifests on the transformer queue, and an operator's request (so that a changed dbt project
    is rebuilt even when nothing landed), delivered to the transformer: one dbt build, or none."""
    from dbt_runner.runner import DbtRunError

    pipeline.request_transform()
    try:
        delivery = pipeline.deliver_transformer_queue()
    except DbtRunError as exc:
        progress(f"    dbt failed: {exc}")
        return "FAILED"
    last = pipeline.last_transform
    progress(
        f"    {delivery.messages} messages in {delivery.batches} batch(es); "
        f"{len(delivery.failed)} left on the queue (runs not in staging yet)"
    )
    build = last.build if last is not None else None
    if build is None or build.run is None:
        progress("    nothing new since the last build: dbt not started")
        return "ok"
    statuses: dict[str, int] = {}
    for node in build.run.nodes:
        statuses[node.status] = statuses.get(node.status, 0) + 1
    changed = ", ".join(d.value for d in build.plan.datasets)
    refresh = " (full refresh: a new or changed dbt project)" if last is not None and last.full_refresh else ""
    nodes = len(build.run.nodes)
    progress(f"    {nodes} nodes in {build.run.elapsed_s:.1f} s: {statuses} (changed: {changed}){refresh}")
    return "ok"


def _dashboards(options: RunOptions, progress: Progress) -> list[str]:
    from grandprix_dashboards.build import build
    from grandprix_dashboards.catalog import dashboards
    from grandprix_dashboards.datasources import select
    from grandprix_dashboards.preview import preview

    out = options.dashboards_dir
    built = build(out / "grafana", select("both"))
    progress(f"    Grafana JSON and provisioning: {out / 'grafana'} ({len(built.dashboards)} dashboards)")
    rendered = preview(options.warehouse, out / "preview", dashboards())
    pages = [str((out / "preview" / "index.html").resolve())]
    for dash in rendered:
        progress(f"    preview: {dash.spec.title}: {dash.html_path} ({len(dash.panels)} panels)")
    return pages + [str(d.png_path.resolve()) for d in rendered if d.png_path is not None]


def _row_counts(warehouse: Path) -> tuple[dict[str, int], dict[str, int]]:
    import duckdb

    if not warehouse.exists():
        return {}, {}
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            f"where (table_schema = '{STAGING_SCHEMA}' and table_name like '%_staging') "
            "or (table_schema = 'analytics' and (table_name like 'fct_%' or table_name like 'dim_%')) "
            "order by 1, 2"
        ).fetchall()
        staging: dict[str, int] = {}
        facts: dict[str, int] = {}
        for schema, table in tables:
            count = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()
            (staging if schema == STAGING_SCHEMA else facts)[table] = int(count[0]) if count else 0
        return staging, facts
    finally:
        con.close()
