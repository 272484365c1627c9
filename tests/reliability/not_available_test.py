""""Not available yet": the ingestion answers NOT_AVAILABLE, the scheduler reschedules the session with
exponential backoff, the local dispatcher fires the retries on a simulated clock, and the session is
ingested once its data is there (or marked FAILED after the retry limit when it never comes)."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any

import pytest

import ingestion.handler
import ingestion.ingest
from f1common.events import CalendarStatus
from f1common.layout import DATA_PREFIX
from f1common.sessions import SessionId
from grandprix_local.harness import EmbeddedStack

TICK = dt.timedelta(hours=1)  # the scheduler's recurring action in the replay (Dispatcher.replay's step)


@dataclass(frozen=True)
class Delivery:
    at: dt.datetime  # on the simulated clock
    attempt: int
    status: str


def replay(stack: EmbeddedStack, key: str) -> list[Delivery]:
    """The scheduler's recurring action and the dispatcher on a simulated clock, from before the session
    to past its retry limit; every ingestion delivery (the real Lambda handler) is recorded."""
    from f1common.clock import SimulatedClock
    from grandprix_local.dispatcher import Dispatcher, scheduler_tick
    from scheduler.actions import Clients

    settings = stack.settings
    stack.pipeline.sync_calendar([SessionId.parse(key)])
    item = stack.calendar_item(key)
    clock = SimulatedClock(item.start_utc - dt.timedelta(hours=1))
    deliveries: list[Delivery] = []

    def ingest(event: dict[str, Any], context: Any) -> Any:
        outcome = ingestion.handler.handler(event, context)
        deliveries.append(Delivery(clock.now, event["attempt"], outcome["status"]))
        stack.drain()
        return outcome

    clients = Clients.from_settings(settings)
    arn = stack.pipeline.resources.ingestion_function_arn
    dispatcher = Dispatcher(clients.scheduler, clients.sqs, settings.group, {arn: ingest}, clock=clock)
    until = item.end_utc + dt.timedelta(hours=settings.retry_limit_hours + 3)
    dispatcher.replay(until, tick=scheduler_tick(settings, clients))
    return deliveries


def assert_backoff(stack: EmbeddedStack, deliveries: list[Delivery]) -> None:
    """Attempt n+1 comes backoff(n) = base * 2**(n-1) after the scheduler's hourly run that saw attempt n's
    NOT_AVAILABLE, so 0-1 h (TICK) later than that after the delivery of attempt n."""
    base = dt.timedelta(minutes=stack.settings.retry_base_minutes)
    for n, (before, after) in enumerate(itertools.pairwise(deliveries), start=1):
        wait = after.at - before.at
        assert base * 2 ** (n - 1) <= wait <= base * 2 ** (n - 1) + TICK, (n, wait)
    assert [d.attempt for d in deliveries] == list(range(1, len(deliveries) + 1))


def test_not_available_yet_is_retried_with_backoff_and_ingested_later(
    stack: EmbeddedStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "2023-03-R"
    real_load = ingestion.ingest.load_fastf1_session
    loads: list[str] = []

    def load_fastf1_session(session_id: SessionId, settings: Any, events: Any = None) -> Any:
        """The first two loads see the session as FastF1 does before its timing data is published
        (no laps: the ingestion's own not-available decision); later loads get the real data."""
        loads.append(session_id.key)
        if len(loads) > 2:
            return real_load(session_id, settings, events)
        session = events.get_event_by_round(session_id.round).get_session(session_id.session.fastf1_name)
        session.load(laps=False, telemetry=False, weather=False, messages=False)
        return session

    monkeypatch.setattr(ingestion.ingest, "load_fastf1_session", load_fastf1_session)
    deliveries = replay(stack, key)

    assert [d.status for d in deliveries] == ["not_available", "not_available", "ingested"]
    assert_backoff(stack, deliveries)
    item = stack.calendar_item(key)
    assert deliveries[0].at >= item.end_utc + dt.timedelta(minutes=stack.settings.ingestion_delay_minutes)
    assert item.status is CalendarStatus.INGESTED and item.attempt == 3
    (manifest,) = stack.manifests().values()
    for entry in manifest.files:
        from f1common.datasets import dataset_spec

        assert stack.session_rows(dataset_spec(entry.dataset).staging_table, key) == entry.rows
    assert stack.session_rows("laps_staging", key) > 1000


def test_a_session_that_never_comes_fails_after_the_retry_limit(stack: EmbeddedStack) -> None:
    key = "2025-07-R"  # a past session the offline FastF1 cache does not hold
    deliveries = replay(stack, key)

    assert len(deliveries) >= 3 and {d.status for d in deliveries} == {"not_available"}
    assert_backoff(stack, deliveries)
    assert deliveries[-1].at - deliveries[-2].at > deliveries[1].at - deliveries[0].at  # the wait grows
    item = stack.calendar_item(key)
    assert item.status is CalendarStatus.FAILED
    assert deliveries[-1].at - item.end_utc <= dt.timedelta(hours=stack.settings.retry_limit_hours)
    assert stack.keys(DATA_PREFIX) == []
