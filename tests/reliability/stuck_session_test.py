"""Issue 14 §1: no session stays unfinished. Faults injected for real on the embedded stack, real FastF1 data:

- an exception raised at each write of a run (upload, fence, re-tag, manifest, claim completion, calendar);
- a slow run overtaken, after its claim's TTL, by a redelivery: the slow run never publishes; and a fenced run
  whose re-tags outlast its publishing lease writes no manifest;
- an ingestion process killed (SIGKILL) after its claim: the delivery dead-letters, the scheduler re-drives the
  overdue session, the new run takes the expired claim over and reports the dead run's files as orphans;
- a session whose every delivery fails: FAILED, within the documented bound (docs/RELIABILITY.md).

Each ends with one complete run of the session (one manifest; the calendar INGESTED by it; its files loaded
once), or FAILED.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

import ingestion.ingest
from f1common.clock import SimulatedClock, utc_now
from f1common.datasets import dataset_spec
from f1common.events import CalendarStatus, IngestionRequest, OutcomeStatus
from f1common.layout import ORPHAN_MARKER_PREFIX, PENDING, PUBLICATION_TAG, orphan_marker_key, parse_data_key
from f1common.sessions import SessionId
from grandprix_local.harness import EmbeddedStack
from ingestion.ingest import ClaimHeld, ingest_session
from ingestion.records import COMPLETE, DEFAULT_IN_PROGRESS_TTL, ClaimLost, IngestionRecords, idempotency_key

SESSION = "2023-01-R"
AFTER_TTL = DEFAULT_IN_PROGRESS_TTL + dt.timedelta(seconds=1)
_LOADS: dict[str, Any] = {}


class SimulatedFault(ConnectionError):
    pass


@pytest.fixture(autouse=True)
def cached_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real FastF1 load, once per session per test process (the load is not what is under test)."""
    real = ingestion.ingest.load_fastf1_session

    def load(session_id: SessionId, settings: Any, events: Any = None) -> Any:
        if session_id.key not in _LOADS:
            _LOADS[session_id.key] = real(session_id, settings, events)
        return _LOADS[session_id.key]

    monkeypatch.setattr(ingestion.ingest, "load_fastf1_session", load)


def deliver(stack: EmbeddedStack, at: dt.datetime, attempt: int = 1) -> Any:
    """One delivery of the session's request to the ingestion service, with its clock at `at`."""
    request = IngestionRequest.for_session(SessionId.parse(SESSION), attempt=attempt)
    return ingest_session(
        request, s3=stack.s3, dynamodb_table_or_client=stack.dynamodb, settings=stack.settings, clock=lambda: at
    )


def tag(stack: EmbeddedStack, key: str) -> str | None:
    tags = stack.s3.get_object_tagging(Bucket=stack.settings.bucket, Key=key)["TagSet"]
    return next((t["Value"] for t in tags if t["Key"] == PUBLICATION_TAG), None)


def orphans(stack: EmbeddedStack, run_id: str) -> list[str]:
    body = stack.s3.get_object(Bucket=stack.settings.bucket, Key=orphan_marker_key(run_id))["Body"].read()
    marker = json.loads(body)
    assert marker["run_id"] == run_id and marker["session"] == SESSION
    for key in marker["files"]:
        assert parse_data_key(key).run_id == run_id and tag(stack, key) == PENDING, key  # it expires
    return list(marker["files"])


def assert_one_complete_run(stack: EmbeddedStack) -> str:
    """One manifest; the claim COMPLETE and the calendar INGESTED by its run; its files loaded once, in full."""
    manifests = stack.manifests()
    assert len(manifests) == 1, sorted(manifests)
    ((run_id, manifest),) = manifests.items()
    record = IngestionRecords(stack.dynamodb, stack.settings.table).get(idempotency_key(SessionId.parse(SESSION)))
    assert record is not None and (record["status"], record["run_id"]) == (COMPLETE, run_id)
    item = stack.calendar_item(SESSION)
    assert (item.status, item.run_id, item.rows) == (CalendarStatus.INGESTED, run_id, manifest.rows)
    stack.drain()
    for entry in manifest.files:
        assert tag(stack, entry.key) != PENDING  # published files never expire
        table = dataset_spec(entry.dataset).staging_table
        assert stack.session_rows(table, SESSION) == entry.rows, entry.dataset
    assert stack.query("select distinct _run_id from staging.laps_staging") == [(run_id,)]
    return run_id


def fail_once(target: Any, name: str, monkeypatch: pytest.MonkeyPatch, *, after: int = 0) -> list[str]:
    """Makes `target.name` raise SimulatedFault on its call number `after + 1` (once)."""
    real: Callable[..., Any] = getattr(target, name)
    calls: list[str] = []

    def faulty(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        if len(calls) == after + 1:
            raise SimulatedFault(f"simulated failure at {name}")
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, faulty)
    return calls


# write -> (patched object, attribute, calls before the fault), and what the next delivery finds
WRITES: dict[str, tuple[Any, str, int]] = {
    "second upload": (ingestion.ingest, "put_table", 1),
    "fence": (IngestionRecords, "fence", 0),
    "re-tag published": (ingestion.ingest, "publish_files", 0),
    "manifest": (ingestion.ingest, "put_manifest", 0),
    "claim completion": (IngestionRecords, "complete", 0),
    "calendar INGESTED": (IngestionRecords, "mark_ingested", 0),
}
BEFORE_FENCE = ("second upload", "fence")  # released: the next delivery runs at once
FENCED = ("re-tag published", "manifest")  # no manifest: the claim is held until its lease expires
AFTER_MANIFEST = ("claim completion", "calendar INGESTED")  # complete: the next delivery is a DUPLICATE


@pytest.mark.parametrize("write", list(WRITES))
def test_a_failure_at_each_write_ends_with_one_complete_run(
    stack: EmbeddedStack, monkeypatch: pytest.MonkeyPatch, write: str
) -> None:
    stack.pipeline.sync_calendar([SessionId.parse(SESSION)])
    target, name, after = WRITES[write]
    t0 = utc_now()
    with monkeypatch.context() as patch:
        fail_once(target, name, patch, after=after)
        with pytest.raises(SimulatedFault):
            deliver(stack, t0)
    (dead,) = {parse_data_key(k).run_id for k in stack.keys("dataset=")}

    if write in BEFORE_FENCE:
        outcome = deliver(stack, t0, attempt=2)
        assert outcome.status is OutcomeStatus.INGESTED and outcome.run_id != dead
        assert sorted(orphans(stack, dead)) == sorted(k for k in stack.keys("dataset=") if dead in k)
    elif write in FENCED:
        with pytest.raises(ClaimHeld, match=dead):  # not a success: retried, then dead-lettered
            deliver(stack, t0 + dt.timedelta(minutes=5), attempt=2)
        outcome = deliver(stack, t0 + AFTER_TTL, attempt=3)  # the lease expired, no manifest: taken over
        assert outcome.status is OutcomeStatus.INGESTED and outcome.run_id != dead
        assert len(orphans(stack, dead)) == 5
    else:
        outcome = deliver(stack, t0, attempt=2)
        assert (outcome.status, outcome.run_id) == (OutcomeStatus.DUPLICATE, dead)
        assert stack.keys(ORPHAN_MARKER_PREFIX) == []
    assert assert_one_complete_run(stack) == outcome.run_id
    again = deliver(stack, t0 + 2 * AFTER_TTL, attempt=4)  # DUPLICATE only now that a COMPLETE run exists
    assert (again.status, again.run_id) == (OutcomeStatus.DUPLICATE, outcome.run_id)


def test_a_slow_run_overtaken_after_its_ttl_never_publishes(
    stack: EmbeddedStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.pipeline.sync_calendar([SessionId.parse(SESSION)])
    t0 = utc_now()
    loaded = ingestion.ingest.load_fastf1_session
    overtaken: list[Any] = []

    def slow_load(session_id: SessionId, settings: Any, events: Any = None) -> Any:
        """The first run's load outlasts its claim: a redelivery after the TTL runs to the end meanwhile."""
        if not overtaken:
            overtaken.append(None)
            overtaken[0] = deliver(stack, t0 + AFTER_TTL, attempt=2)
        return loaded(session_id, settings, events)

    monkeypatch.setattr(ingestion.ingest, "load_fastf1_session", slow_load)
    with pytest.raises(ClaimLost, match="INPROGRESS -> PUBLISHING refused"):
        deliver(stack, t0)

    winner = overtaken[0]
    assert winner.status is OutcomeStatus.INGESTED
    assert assert_one_complete_run(stack) == winner.run_id
    (slow,) = {parse_data_key(k).run_id for k in stack.keys("dataset=")} - {winner.run_id}
    assert len(orphans(stack, slow)) == 5  # its files are reported and expire; none is listed by a manifest


def test_a_fenced_run_whose_lease_ends_while_it_publishes_never_writes_its_manifest(
    stack: EmbeddedStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The re-tags of a fenced run outlast its publishing lease (its clock moves past it): a redelivery after the
    lease takes the claim over and lands; the slow run then writes no manifest, and its files are orphans."""
    stack.pipeline.sync_calendar([SessionId.parse(SESSION)])
    t0 = utc_now()
    clock = SimulatedClock(t0)
    real_publish = ingestion.ingest.publish_files
    overtaken: list[Any] = []

    def slow_publish(*args: Any, **kwargs: Any) -> None:
        real_publish(*args, **kwargs)
        if not overtaken:  # the slow run's re-tags, not the redelivery's
            overtaken.append(None)
            clock.set(t0 + AFTER_TTL)
            overtaken[0] = deliver(stack, t0 + AFTER_TTL, attempt=2)

    monkeypatch.setattr(ingestion.ingest, "publish_files", slow_publish)
    request = IngestionRequest.for_session(SessionId.parse(SESSION), attempt=1)
    with pytest.raises(ClaimLost, match="publishing lease"):
        ingest_session(
            request, s3=stack.s3, dynamodb_table_or_client=stack.dynamodb, settings=stack.settings, clock=clock
        )

    winner = overtaken[0]
    assert winner.status is OutcomeStatus.INGESTED
    assert assert_one_complete_run(stack) == winner.run_id
    (slow,) = {parse_data_key(k).run_id for k in stack.keys("dataset=")} - {winner.run_id}
    assert len(orphans(stack, slow)) == 5  # reported by the taker, tagged pending again: they expire


KILLED_AFTER_CLAIM = """
import datetime as dt, os, signal, sys
import ingestion.ingest as ingest
from f1common.clients import aws_client
from f1common.events import IngestionRequest
from f1common.settings import Settings

real_put = ingest.put_table

def put_then_die(*args, **kwargs):
    entry = real_put(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)  # the Lambda dies (timeout, out of memory) after its first upload

ingest.put_table = put_then_die
settings = Settings()
now = dt.datetime.fromisoformat(sys.argv[2])
ingest.ingest_session(IngestionRequest.model_validate_json(sys.argv[1]), s3=aws_client("s3", settings),
                      dynamodb_table_or_client=aws_client("dynamodb", settings), settings=settings, clock=lambda: now)
"""


def run_killed_process(payload: dict[str, Any], now: dt.datetime) -> int:
    """The ingestion in its own process against the stack's moto server, killed by SIGKILL after its claim."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(  # our own interpreter and script
        [sys.executable, "-c", KILLED_AFTER_CLAIM, json.dumps(payload), now.isoformat()],
        env=env,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    return done.returncode


def replay(stack: EmbeddedStack, ingest: Callable[[dict[str, Any], SimulatedClock], Any]) -> SimulatedClock:
    """The scheduler's hourly action and the dispatcher on a simulated clock, to past the retry limit."""
    from grandprix_local.dispatcher import Dispatcher, scheduler_tick
    from scheduler.actions import Clients

    stack.pipeline.sync_calendar([SessionId.parse(SESSION)])
    item = stack.calendar_item(SESSION)
    clock = SimulatedClock(item.start_utc - dt.timedelta(hours=1))
    clients = Clients.from_settings(stack.settings)
    arn = stack.pipeline.resources.ingestion_function_arn
    dispatcher = Dispatcher(
        clients.scheduler,
        clients.sqs,
        stack.settings.group,
        {arn: lambda event, context: ingest(event, clock)},
        clock=clock,
    )
    until = item.end_utc + dt.timedelta(hours=stack.settings.retry_limit_hours + 6)
    dispatcher.replay(until, tick=scheduler_tick(stack.settings, clients))
    return clock


def dlq_depth(stack: EmbeddedStack) -> int:
    sqs = stack.pipeline._aws("sqs")
    attributes = sqs.get_queue_attributes(
        QueueUrl=stack.pipeline.resources.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_a_killed_ingestion_is_re_driven_and_lands_once(stack: EmbeddedStack) -> None:
    deliveries: list[tuple[int, str]] = []

    def ingest(event: dict[str, Any], clock: SimulatedClock) -> Any:
        if not deliveries:
            deliveries.append((event["attempt"], f"killed {run_killed_process(event, clock.now)}"))
            raise RuntimeError("the ingestion process was killed")
        try:
            outcome = deliver(stack, clock.now, attempt=event["attempt"])
        except ClaimHeld:
            deliveries.append((event["attempt"], "claim held"))
            raise
        deliveries.append((event["attempt"], outcome.status.value))
        return outcome.model_dump(mode="json")

    replay(stack, ingest)

    # attempt 1: killed, then EventBridge Scheduler's 2 retries find the claim held and it dead-letters;
    # the scheduler re-drives the overdue session as attempt 2, which takes the expired claim over
    assert deliveries == [(1, "killed -9"), (1, "claim held"), (1, "claim held"), (2, "ingested")]
    assert dlq_depth(stack) == 1
    run_id = assert_one_complete_run(stack)
    (dead,) = {parse_data_key(k).run_id for k in stack.keys("dataset=")} - {run_id}
    assert len(orphans(stack, dead)) == 1  # the file it uploaded before it died
    assert stack.calendar_item(SESSION).attempt == 2


def test_a_session_whose_deliveries_all_fail_is_failed_within_the_bound(stack: EmbeddedStack) -> None:
    from scheduler.planning import OVERDUE_GRACE

    attempts: list[tuple[int, dt.datetime]] = []

    def ingest(event: dict[str, Any], clock: SimulatedClock) -> Any:
        attempts.append((event["attempt"], clock.now))
        raise SimulatedFault("the ingestion always fails")

    replay(stack, ingest)

    item = stack.calendar_item(SESSION)
    assert item.status is CalendarStatus.FAILED and "no outcome" in (item.message or "")
    assert sorted({a for a, _ in attempts}) == list(range(1, item.attempt + 1)) and item.attempt >= 2
    bound = dt.timedelta(hours=stack.settings.retry_limit_hours) + OVERDUE_GRACE + dt.timedelta(hours=1)
    assert item.updated_at is not None and item.updated_at - item.end_utc <= bound
    assert dlq_depth(stack) == item.attempt  # every attempt dead-lettered (alarmed), then FAILED (alarmed)
