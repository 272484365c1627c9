"""The build after a load, the same in the cloud and on the embedded stack: one SQS batch, one dbt build.

The queue's batching window debounces a burst of landed runs into one batch, and the function's single
concurrency makes builds one at a time. For a batch, :func:`transform_batch`

1. parses the messages strictly (refused ones are reported as failures: they end in the DLQ, alarmed);
2. asks the warehouse which landed runs are wholly in staging; the others are retried (their messages
   are reported as failures and come back after the visibility timeout) - if nothing else is asked, no
   build starts;
3. reads the last successful build's state from S3, and builds what changed since
   (`dbt_runner.selection.build_after_load`: only what is downstream of the changed datasets, tables
   published before the tests run, nothing at all when nothing changed); a changed dbt project (or an
   operator's `full_refresh`) rebuilds everything once;
4. on the scheduled run, also runs `dbt source freshness`;
5. emits the transformer's metrics (f1common.metrics) and stores the new state.

A dbt or test failure raises: the whole batch returns to the queue and the state does not advance.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from dbt_runner.runner import PROJECT_DIR, DbtRunError, run_dbt
from dbt_runner.selection import BuildResult, build_after_load, read_state_from
from f1common import metrics as metric
from f1common.observability import add_counts
from transformer.readiness import pending_runs
from transformer.requests import Request, parse_records
from transformer.state import FINGERPRINT_FILE, StateStore, project_fingerprint

_FRESHNESS_FAILED = {"error", "runtime error"}


@dataclass(frozen=True)
class DbtTarget:
    """Where dbt builds: the embedded stack's DuckDB file, or a profile target (prod) with its environment."""

    warehouse_path: Path | None = None
    target: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Transformer:
    """What a build needs, each part given by the caller (Lambda: Snowflake and S3; the embedded stack: DuckDB
    and moto). `connect` opens a DB-API connection with qmark parameters, closed before dbt starts."""

    connect: Callable[[], AbstractContextManager[Any]]
    state: StateStore
    dbt: DbtTarget
    artifacts_dir: Path  # dbt's target/ and logs/ (kept between runs: partial parsing) and the state files
    project_dir: Path = PROJECT_DIR


@dataclass
class Outcome:
    requests: list[Request]
    refused: dict[str, str]
    pending: set[str]  # landed runs not wholly in staging yet
    build: BuildResult | None = None  # None: no build started (only pending runs were asked for)
    full_refresh: bool = False
    stale_sources: int | None = None  # scheduled runs only
    seconds: float = 0.0

    @property
    def failed_messages(self) -> list[str]:
        retry = [r.message_id for r in self.requests if r.run_id in self.pending]
        return sorted({*self.refused, *retry})

    def batch_response(self) -> dict[str, Any]:
        """The SQS event source mapping's partial batch response (`ReportBatchItemFailures`)."""
        return {"batchItemFailures": [{"itemIdentifier": m} for m in self.failed_messages]}


def transform_batch(
    event: dict[str, Any], transformer: Transformer, *, metrics: Metrics | None = None, context: Any = None
) -> Outcome:
    """One SQS batch of the transformer queue: at most one dbt build (see the module's docstring)."""
    started = time.perf_counter()

    def count(name: str, value: float) -> None:
        if metrics is not None:
            add_counts(metrics, {name: value})

    requests, refused = parse_records(event, context)
    landed = {r.run_id for r in requests if r.run_id is not None}
    with transformer.connect() as con:
        pending = pending_runs(con, landed)
        snapshot = read_state_from(con)
    outcome = Outcome(requests, refused, pending)
    if pending:
        count(metric.RUNS_NOT_IN_STAGING, len(pending))
    asked = [r for r in requests if r.run_id is None or r.run_id not in pending]
    if not asked:
        return outcome
    artifacts = transformer.artifacts_dir
    transformer.state.fetch(artifacts)
    fingerprint = project_fingerprint(transformer.project_dir)
    stored = artifacts / FINGERPRINT_FILE
    outcome.full_refresh = any(r.full_refresh for r in asked) or (
        not stored.is_file() or stored.read_text().strip() != fingerprint
    )
    target = transformer.dbt
    try:
        outcome.build = build_after_load(
            target.warehouse_path,
            artifacts,
            full_refresh=outcome.full_refresh,
            project_dir=transformer.project_dir,
            reader=lambda: snapshot,
            target=target.target,
            env=target.env,
        )
    except DbtRunError:
        count(metric.TRANSFORM_FAILED, 1)
        raise
    stored.write_text(fingerprint + "\n")
    if any(r.kind == "scheduled" for r in asked):
        outcome.stale_sources = source_freshness(transformer, artifacts)
        count(metric.SOURCES_STALE, outcome.stale_sources)
    transformer.state.store(artifacts)
    build = outcome.build
    count(metric.TRANSFORM_RUNS if build.run is not None else metric.TRANSFORM_NOTHING_NEW, 1)
    if metrics is not None:
        metrics.add_metric(name=metric.TRANSFORM_DURATION, unit=MetricUnit.Seconds, value=build.seconds)
    count(metric.TRANSFORM_SUCCEEDED, 1)
    outcome.seconds = time.perf_counter() - started
    return outcome


def source_freshness(transformer: Transformer, artifacts: Path) -> int:
    """`dbt source freshness`: the number of sources past their `error_after` (or that could not be checked)."""
    target = transformer.dbt
    run = run_dbt(
        ["source", "freshness", "--quiet"],
        project_dir=transformer.project_dir,
        warehouse_path=target.warehouse_path,
        target=target.target,
        env=target.env,
        artifacts_dir=artifacts,
        raise_on_failure=False,
    )
    return sum(1 for n in run.nodes if n.status in _FRESHNESS_FAILED)
