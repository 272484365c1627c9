"""dbt after a load, started only by the trigger path: sessions land through the scheduler's dispatcher and
the ingestion service, the loader stages them, and the transformer queue (landed manifests, routed by the
embedded stack's EventBridge rule) is delivered to the transformer's handler, as the event source mapping
does in the cloud. No test here calls dbt.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from f1common.clients import aws_client
from f1common.datasets import SESSION_DATASETS
from f1common.sessions import SessionId
from f1common.testing import f1data_dir_or_skip
from grandprix_local.harness import EmbeddedStack, embedded_stack

FIRST = "2023-01-R"
LATE = "2025-01-R"  # lands before the loader has staged it
BURST = ("2023-03-R", "2025-01-Q", "2025-02-R", "2025-02-SQ")
# The Ergast history and 2023's schedule land; 2025's does not: its sprint qualifying (BURST) is then in no Ergast
# table (the dump has no sprint qualifying dates) nor schedule, and reaches the sessions dimension (and through it
# the facts' relationship tests and the marts) by its own data alone.
SCHEDULED_SEASONS = [2023]
MARTS = ("mart_positions_by_lap", "mart_lap_weather", "mart_session_pace_weather")


@dataclass
class Stack:
    embedded: EmbeddedStack

    @property
    def pipeline(self) -> Any:
        return self.embedded.pipeline

    def land(self, keys: tuple[str, ...], *, stage: bool = True) -> set[str]:
        """Replays the sessions (dispatcher -> ingestion), the loader staging each; returns the new run ids."""
        before, sessions = self.run_ids(), [SessionId.parse(k) for k in keys]
        self.pipeline.sync_calendar(sessions)  # the calendar holds these alone: the replay ingests nothing else
        self.pipeline.replay(sessions, after_each=self.pipeline.drain_loader if stage else None)
        return self.run_ids() - before

    def run_ids(self) -> set[str]:
        return set(self.embedded.manifests())

    def queued(self) -> int:
        attrs = aws_client("sqs", self.embedded.settings).get_queue_attributes(
            QueueUrl=self.pipeline.resources.transformer_queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def in_marts(self, key: str) -> dict[str, int]:
        session = SessionId.parse(key)
        return {
            mart: int(
                self.embedded.query(
                    f"select count(*) from analytics.{mart} where season = ? and round = ? and session = ?",
                    session.season,
                    session.round,
                    session.session.code,
                )[0][0]
            )
            for mart in MARTS
        }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data = f1data_dir_or_skip()
    with embedded_stack(tmp_path_factory.mktemp("trigger"), f1data_dir=data) as embedded:
        embedded.pipeline.land_history(SCHEDULED_SEASONS)
        embedded.drain()
        yield Stack(embedded)


def deliver(stack: Stack) -> tuple[Any, Any]:
    delivery = stack.pipeline.deliver_transformer_queue()
    return delivery, stack.pipeline.last_transform


def test_a_landed_session_reaches_every_mart_through_the_trigger(stack: Stack) -> None:
    landed = stack.land((FIRST,))
    delivery, outcome = deliver(stack)
    # the history, the schedules and the session: each manifest announced itself on the transformer queue
    assert {r.run_id for r in outcome.requests} == stack.run_ids() and landed <= stack.run_ids()
    assert delivery.batches == 1 and delivery.failed == [] and stack.queued() == 0
    assert outcome.build is not None and outcome.build.run is not None and outcome.full_refresh
    assert all(n > 0 for n in stack.in_marts(FIRST).values()), stack.in_marts(FIRST)


def test_a_run_not_in_staging_yet_waits_on_the_queue(stack: Stack) -> None:
    [run] = stack.land((LATE,), stage=False)  # landed in S3, the loader has not run
    delivery, outcome = deliver(stack)
    assert outcome.pending == {run} and outcome.build is None, "no build for a run the warehouse does not hold"
    assert len(delivery.failed) == 1 and stack.queued() == 1
    assert stack.in_marts(LATE) == dict.fromkeys(MARTS, 0)
    stack.pipeline.drain_loader()
    time.sleep(1.2)  # the message is visible again after the queue's visibility timeout
    delivery, outcome = deliver(stack)
    assert {r.run_id for r in outcome.requests} == {run} and outcome.pending == set()
    assert outcome.build is not None and outcome.build.run is not None and not outcome.full_refresh
    assert not outcome.build.run.parsed, "the warm transformer builds on the manifest it parsed before"
    assert all(n > 0 for n in stack.in_marts(LATE).values())
    assert stack.queued() == 0


def test_a_burst_of_landed_sessions_is_one_build_of_what_changed(stack: Stack) -> None:
    runs = stack.land(BURST)
    assert len(runs) == len(BURST)
    delivery, outcome = deliver(stack)
    assert delivery.batches == 1 and delivery.messages == len(BURST)
    build = outcome.build
    assert build is not None and build.run is not None and build.tests is not None  # one build: publish, then test
    assert set(build.plan.datasets) <= set(SESSION_DATASETS), "only what the sessions changed"
    for key in BURST:
        assert all(n > 0 for n in stack.in_marts(key).values()), key
    sessions = {row[0] for row in stack.embedded.query("select session_key from analytics.dim_sessions")}
    assert set(BURST) <= sessions, "every session with data is in the sessions dimension, schedule or not"
    assert deliver(stack)[0].batches == 0, "an empty queue starts nothing"


def test_a_request_with_nothing_new_does_not_start_dbt(stack: Stack) -> None:
    stack.pipeline.request_transform()
    delivery, outcome = deliver(stack)
    assert delivery.messages == 1 and outcome.build is not None and outcome.build.run is None
