"""A crash of the ingestion between datasets (the 3rd dataset's upload fails) and the retry: the loader,
which only trusts manifests, loads nothing of the dead run; the retry lands a complete run that loads
in full, once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

import ingestion.ingest
from f1common.datasets import dataset_spec
from f1common.events import CalendarStatus
from f1common.layout import DATA_PREFIX, MANIFEST_PREFIX, parse_data_key
from f1common.sessions import SessionId
from grandprix_local.harness import EmbeddedStack

SESSION = "2023-01-R"


class SimulatedCrash(ConnectionError):
    pass


def crash_on_third_dataset(monkeypatch: pytest.MonkeyPatch, on_crash: Callable[[], object] | None = None) -> None:
    """Makes the ingestion's first run die while uploading its 3rd dataset (later runs go through)."""
    real_put = ingestion.ingest.put_table
    uploads: Counter[str] = Counter()  # run id -> datasets attempted

    def put_table(s3: Any, bucket: str, key: str, dataset: Any, table: Any) -> Any:
        run_id = parse_data_key(key).run_id
        uploads[run_id] += 1
        if len(uploads) == 1 and uploads[run_id] == 3:
            if on_crash is not None:
                on_crash()
            raise SimulatedCrash(f"simulated crash while uploading {dataset.value} to {key}")
        return real_put(s3, bucket, key, dataset, table)

    monkeypatch.setattr(ingestion.ingest, "put_table", put_table)


def staged_rows(stack: EmbeddedStack) -> dict[str, int]:
    from f1common.datasets import SESSION_DATASETS

    return {d.value: stack.session_rows(dataset_spec(d).staging_table, SESSION) for d in SESSION_DATASETS}


def assert_one_complete_run(stack: EmbeddedStack, run_id: str) -> None:
    manifest = stack.manifests()[run_id]
    assert manifest.files
    for entry in manifest.files:
        table = dataset_spec(entry.dataset).staging_table
        assert stack.session_rows(table, SESSION) == entry.rows, entry.dataset
        assert stack.session_runs(table, SESSION) == [run_id], entry.dataset


def test_crash_between_datasets_loads_nothing_and_the_retry_lands_everything(
    stack: EmbeddedStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.pipeline.sync_calendar([SessionId.parse(SESSION)])
    crash_on_third_dataset(monkeypatch)

    with pytest.raises(SimulatedCrash):
        stack.ingest(SESSION)
    orphans = stack.keys(DATA_PREFIX)
    assert len(orphans) == 2 and stack.keys(MANIFEST_PREFIX) == []
    (crashed_run,) = {parse_data_key(k).run_id for k in orphans}

    report = stack.drain()
    assert report.counts["loaded"] == 0 and report.counts["pending"] == 2
    assert set(staged_rows(stack).values()) == {0}
    assert stack.calendar_item(SESSION).status is not CalendarStatus.INGESTED

    outcome = stack.ingest(SESSION, attempt=2)  # the retry (the claim was released by the crash)
    assert outcome["status"] == "ingested" and outcome["run_id"] != crashed_run
    report = stack.drain()
    assert report.counts["quarantined"] == 0
    assert report.counts["loaded"] == len(stack.manifests()[outcome["run_id"]].files)
    assert_one_complete_run(stack, outcome["run_id"])
    assert stack.calendar_item(SESSION).status is CalendarStatus.INGESTED

    # the dead run's files stay waiting for a manifest that never comes: never loaded
    assert stack.query("select count(*) from staging.load_history where run_id = ?", crashed_run) == [(0,)]
    pending = stack.query("select file_name from staging.load_pending where run_id = ? order by 1", crashed_run)
    assert [p for (p,) in pending] == sorted(orphans)


def test_a_crash_in_a_scheduled_ingestion_is_retried_by_the_dispatcher(
    stack: EmbeddedStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    at_crash: list[dict[str, int]] = []

    def loader_runs_during_the_crash() -> None:
        stack.drain()
        at_crash.append(staged_rows(stack))

    crash_on_third_dataset(monkeypatch, on_crash=loader_runs_during_the_crash)
    stack.pipeline.sync_calendar([SessionId.parse(SESSION)])
    replay = stack.pipeline.replay([SessionId.parse(SESSION)], after_each=stack.drain)

    assert at_crash and set(at_crash[0].values()) == {0}, replay  # nothing of the dead run was loaded
    assert replay.ingested == [SESSION] and replay.errors == []
    (run_id,) = (r for r, m in stack.manifests().items() if m.session and m.session.key == SESSION)
    assert_one_complete_run(stack, run_id)
    dlq = stack.pipeline.resources.dlq_url
    sqs = stack.pipeline._aws("sqs")
    assert (
        sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
        == "0"
    )
