"""Issue 18 §3: the local dispatcher runs due ingestions concurrently with the cloud's exactly-once guarantees.

The same session delivered at once, by the dispatcher's threads (three schedules due at one instant, as a
redelivery and re-drives make) and by separate processes (the real ingestion, each against the stack's moto
server): it lands once, the others fail (the claim is held) or are duplicates, and the summary is in a
deterministic order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

import ingestion.handler
import ingestion.ingest
from f1common.clock import SimulatedClock, utc_now
from f1common.events import IngestionRequest
from f1common.sessions import SessionId
from grandprix_local.dispatcher import Dispatcher
from grandprix_local.harness import EmbeddedStack
from scheduler.actions import Clients
from scheduler.schedules import ScheduleTarget, create_ingestion_schedule

SESSION = "2023-01-R"
_LOADS: dict[str, Any] = {}


def assert_landed_once(stack: EmbeddedStack) -> str:
    manifests = stack.manifests()
    assert len(manifests) == 1, sorted(manifests)
    ((run_id, manifest),) = manifests.items()
    report = stack.drain()
    assert report.counts["loaded"] == len(manifest.files) and report.counts["quarantined"] == 0
    assert stack.query("select count(distinct _run_id) from staging.laps_staging") == [(1,)]
    for table in ("laps_staging", "results_staging"):
        assert stack.duplicates(table) == 0
    return run_id


def test_the_dispatcher_fires_one_session_three_times_at_once_and_it_lands_once(
    stack: EmbeddedStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ingestion.ingest.load_fastf1_session

    def load(session_id: SessionId, settings: Any, events: Any = None) -> Any:  # the load is not what is raced
        if session_id.key not in _LOADS:
            _LOADS[session_id.key] = real(session_id, settings, events)
        return _LOADS[session_id.key]

    monkeypatch.setattr(ingestion.ingest, "load_fastf1_session", load)
    stack.pipeline.sync_calendar([SessionId.parse(SESSION)])
    clients = Clients.from_settings(stack.settings)
    target = ScheduleTarget.from_settings(stack.settings, clients.sqs)
    now = utc_now()
    for attempt in (3, 1, 2):
        request = IngestionRequest.for_session(SessionId.parse(SESSION), attempt=attempt)
        create_ingestion_schedule(clients.scheduler, target, request, now)
    seen: list[str] = []
    dispatcher = Dispatcher(
        clients.scheduler,
        clients.sqs,
        stack.settings.group,
        {stack.pipeline.resources.ingestion_function_arn: ingestion.handler.handler},
        clock=SimulatedClock(now),
        on_fire=lambda f: seen.append(f.schedule),
        concurrency=3,
    )

    firings = dispatcher.run_due()

    names = [f"ingest-{SESSION}-a{n}" for n in (1, 2, 3)]
    assert [f.schedule for f in firings] == names and seen == names  # deterministic, whatever finished first
    outcomes = [f.result["status"] if f.ok else f.error for f in firings]
    assert sum(o == "ingested" for o in outcomes) == 1, outcomes
    assert all(o in ("ingested", "duplicate") or str(o).startswith(("ClaimHeld", "ClaimLost")) for o in outcomes)
    run_id = assert_landed_once(stack)
    assert {f.result["run_id"] for f in firings if f.ok} == {run_id}


DELIVER = """
import json, sys
from f1common.clients import aws_client
from f1common.settings import Settings
from ingestion.handler import route
settings = Settings()
try:
    out = route(json.loads(sys.argv[1]), settings=settings, s3=aws_client("s3", settings),
                dynamodb=aws_client("dynamodb", settings))
    print(json.dumps({"status": out["status"], "run_id": out["run_id"]}))
except Exception as exc:
    print(json.dumps({"status": type(exc).__name__}))
"""


def test_processes_delivering_one_session_at_once_land_it_once(stack: EmbeddedStack) -> None:
    stack.pipeline.sync_calendar([SessionId.parse(SESSION)])
    session = SessionId.parse(SESSION)
    event = json.dumps({"season": session.season, "round": session.round, "session": session.session.code})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen([sys.executable, "-c", DELIVER, event], env=env, stdout=subprocess.PIPE)  # our own script
        for _ in range(3)
    ]
    results = [json.loads(p.communicate(timeout=300)[0].decode().strip().splitlines()[-1]) for p in procs]
    statuses = sorted(r["status"] for r in results)
    assert statuses.count("ingested") == 1, results
    assert set(statuses) <= {"ingested", "duplicate", "ClaimHeld", "ClaimLost"}, results
    run_id = assert_landed_once(stack)
    assert {r.get("run_id") for r in results} - {None} == {run_id}


def test_a_catch_up_lands_past_sessions_on_worker_processes_once_each_and_fails_the_unavailable_one(
    stack: EmbeddedStack,
) -> None:
    """The local run's way with past sessions (the cloud's backfill, then the hourly retries): real ingestions on
    worker processes against the stack's moto server, every session once, the one without data FAILED."""
    from f1common.events import CalendarStatus

    keys = ("2023-01-R", "2025-01-Q", "2025-01-FP1")  # the offline cache has no lap data for 2025-01-FP1
    sessions = [SessionId.parse(k) for k in keys]
    stack.pipeline.sync_calendar(sessions)
    assert stack.pipeline.all_due(sessions)
    drained: list[Any] = []

    replay = stack.pipeline.catch_up(sessions, after_each=lambda: drained.append(stack.drain()), concurrency=2)

    assert sorted(replay.ingested) == ["2023-01-R", "2025-01-Q"] and replay.duplicates == [] and not replay.errors
    assert replay.not_available == ["2025-01-FP1", "2025-01-FP1"]  # tried, retried once by the hourly run, failed
    assert {k: stack.calendar_item(k).status for k in keys} == {
        "2023-01-R": CalendarStatus.INGESTED,
        "2025-01-Q": CalendarStatus.INGESTED,
        "2025-01-FP1": CalendarStatus.FAILED,
    }
    assert sorted(m.session.key for m in stack.manifests().values() if m.session) == ["2023-01-R", "2025-01-Q"]
    assert stack.query("select count(distinct _run_id) from staging.laps_staging") == [(2,)]
    assert sum(d.counts.get("loaded", 0) for d in drained) > 0 and stack.duplicates("laps_staging") == 0
    again = stack.pipeline.catch_up(sessions)  # nothing left to try: the FAILED one is not retried by a run
    assert again.firings == 0
