"""The local pipeline's replay on worker processes started ahead, with the Ergast history landing alongside."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from f1common.datasets import Source
from f1common.sessions import SessionId
from f1common.testing import f1data_dir_or_skip
from grandprix_local.dispatcher import scheduler_tick
from grandprix_local.harness import EmbeddedStack, embedded_stack
from grandprix_local.pipeline import ingestion_cost
from loader.loading import Outcome
from scheduler.schedules import list_schedule_names

SESSION = "2023-01-R"


def test_the_history_lands_on_a_started_worker_while_the_catch_up_runs(tmp_path: Path) -> None:
    with embedded_stack(tmp_path, f1data_dir=f1data_dir_or_skip()) as stack:
        pipeline = stack.pipeline
        sessions = [SessionId.parse(SESSION)]
        pipeline.sync_calendar(sessions)
        reports: list[Any] = []
        with pipeline.workers(2):
            workers = pipeline._workers
            assert workers is not None and workers.kind == "processes" and workers.size == 2
            history = pipeline.begin_history()
            assert history.future is not None  # delivered to a worker: under way while the replay runs
            replay = pipeline.catch_up(sessions, after_each=lambda: reports.append(stack.drain()), concurrency=2)
            landed = history.result()
        reports.append(stack.drain())
        manifests = stack.manifests()
        loaded = [key for report in reports for key in report.keys(Outcome.LOADED)]

    assert replay.ingested == [SESSION] and not replay.errors
    [ergast] = [m for m in manifests.values() if m.source is Source.ERGAST]
    assert landed == {"ergast": ergast.rows} and sum(ergast.rows.values()) > 0
    # every landed file (the history's, the session's, its season's schedule) loaded once, by the replay's
    # drains or the one after
    assert sorted(loaded) == sorted(f.key for m in manifests.values() for f in m.files)


def test_the_costliest_session_types_start_first() -> None:
    class Schedule:
        def __init__(self, payload: str) -> None:
            self.input = payload

    def cost(payload: str) -> float:
        return ingestion_cost(Schedule(payload))

    race, practice, qualifying, sprint = (
        cost(f'{{"season": 2023, "round": 1, "session": "{s}"}}') for s in ("R", "FP2", "Q", "S")
    )
    assert race > practice > qualifying > sprint  # a practice session loads nearly as long as a race
    assert cost('{"kind": "schedule", "season": 2023}') < sprint  # a landing is the shortest


def test_the_scheduler_runs_on_the_stack_without_looking_up_its_dead_letter_queue(stack: EmbeddedStack) -> None:
    """The provisioned DLQ's ARN is in the services' settings (as the cloud's environment has it): the calendar
    sync and the replay's hourly scheduler runs send SQS nothing, and their schedules dead-letter to that queue."""
    pipeline = stack.pipeline
    clients = pipeline._scheduler_clients()
    calls: list[str] = []
    clients.sqs.meta.events.register("before-call.sqs", lambda model, **_: calls.append(model.name))
    session = SessionId.parse(SESSION)
    pipeline.sync_calendar([session])
    [item] = pipeline.calendar()
    scheduler_tick(pipeline.settings, clients)(item.end_utc + dt.timedelta(hours=3))
    assert calls == []
    names = list_schedule_names(clients.scheduler, pipeline.settings.group)
    assert any(n.startswith("ingest-") for n in names) and any(n.startswith("land-schedule-") for n in names)
    for name in names:
        target = clients.scheduler.get_schedule(Name=name, GroupName=pipeline.settings.group)["Target"]
        assert target["DeadLetterConfig"]["Arn"] == pipeline.resources.dlq_arn


def test_the_drains_inside_loading_open_the_warehouse_once(stack: EmbeddedStack, monkeypatch: Any) -> None:
    """A replay's drains (one after each firing) share the loader's warehouse, opened once; what they load is
    committed file by file and in the file for every reader once the loading ends."""
    from loader.duckdb_warehouse import DuckDBWarehouse

    opened: list[Any] = []
    real_open = DuckDBWarehouse.open

    def counted_open(cls: type[DuckDBWarehouse], path: Any) -> DuckDBWarehouse:
        opened.append(path)
        return real_open(path)

    monkeypatch.setattr(DuckDBWarehouse, "open", classmethod(counted_open))
    stack.land_schedules([2023])
    keys = stack.keys()
    files = sorted(f.key for m in stack.manifests().values() for f in m.files)
    pipeline = stack.pipeline
    with pipeline.loading():
        stack.redeliver(keys, 1)
        first = pipeline.drain_loader()
        stack.redeliver(keys, 1)  # SQS delivers at least once: the second drain loads nothing again
        second = pipeline.drain_loader()
    assert opened == [pipeline.settings.warehouse_path]
    assert sorted(first.keys(Outcome.LOADED)) == files and files
    assert second.keys(Outcome.LOADED) == [] and sorted(set(second.keys(Outcome.SKIPPED))) == files
    assert stack.query("select count(*) from staging.load_history") == [(len(files),)]
    pipeline.drain_loader()  # outside the loading: a drain opens the warehouse for itself, as before
    assert len(opened) == 2
