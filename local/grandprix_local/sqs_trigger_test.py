"""The emulated SQS trigger: S3 notifications on the embedded stack's queue drained into the loader."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from f1common.clients import aws_client
from f1common.datasets import dataset_spec
from f1common.layout import manifest_key
from f1common.manifest import Manifest
from f1common.settings import Settings
from f1common.testing import f1data_dir_or_skip
from grandprix_local.sqs_trigger import BackgroundDrain, drain_queue
from grandprix_local.stack import moto_server, provision
from ingestion.ergast_landing import land_ergast
from ingestion.landing import list_keys
from loader.duckdb_warehouse import DuckDBWarehouse
from loader.loading import Outcome


def test_drain_queue_loads_notified_files_exactly_once(tmp_path: Path) -> None:
    data = f1data_dir_or_skip()
    with moto_server():
        settings = Settings(f1data_dir=data)
        resources = provision(settings)
        s3, sqs, url = aws_client("s3", settings), aws_client("sqs", settings), resources.loader_queue_url
        landed = land_ergast(data / "ergast", s3=s3, settings=settings, progress=lambda line: None)
        assert landed.run_id is not None
        keys = list_keys(s3, settings.bucket, "dataset=")
        manifest = Manifest.from_json(
            s3.get_object(Bucket=settings.bucket, Key=manifest_key(landed.run_id))["Body"].read()
        )
        for key in [*keys, manifest_key(landed.run_id)]:  # S3 notified each object: every message arrives twice
            record = {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": settings.bucket}, "object": {"key": key}},
            }
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"Records": [record]}))

        with DuckDBWarehouse.open(tmp_path / "warehouse.duckdb") as warehouse:
            report = drain_queue(sqs, url, s3=s3, bucket=settings.bucket, warehouse=warehouse)

            assert sorted(report.keys(Outcome.LOADED)) == sorted(keys)
            for entry in manifest.files:
                assert warehouse.staging_rows(dataset_spec(entry.dataset)) == entry.rows
            assert sqs.receive_message(QueueUrl=url).get("Messages") is None  # all deleted
            assert drain_queue(sqs, url, s3=s3, bucket=settings.bucket, warehouse=warehouse).results == []


def test_background_drain_runs_on_its_own_thread_and_its_close_drains_what_was_sent() -> None:
    queue: list[int] = []
    loaded: list[int] = []
    threads: set[int] = set()
    lock = threading.Lock()

    def drain() -> None:
        threads.add(threading.get_ident())
        with lock:
            taken, queue[:] = list(queue), []
        loaded.extend(taken)

    trigger = BackgroundDrain(drain)
    for message in range(50):
        with lock:
            queue.append(message)
        if message % 7 == 0:
            trigger.kick()
    with lock:
        queue.append(50)  # sent after the last kick: the close's drain takes it
    trigger.close()

    assert loaded == list(range(51))
    assert threads and threading.get_ident() not in threads


def test_kicks_during_a_drain_make_one_more_drain_not_one_each() -> None:
    started, release = threading.Event(), threading.Event()
    drains: list[int] = []

    def drain() -> None:
        drains.append(len(drains))
        if len(drains) == 1:
            started.set()
            assert release.wait(10)

    trigger = BackgroundDrain(drain)
    trigger.kick()
    assert started.wait(10)
    for _ in range(5):  # while the first drain runs
        trigger.kick()
    release.set()
    trigger.close()

    assert len(drains) in (2, 3)  # the first, one for the five kicks, and the close's (unless it was that one)


def test_a_failed_background_drain_is_raised_by_the_next_kick_and_by_close() -> None:
    def drain() -> None:
        raise OSError("warehouse file locked")

    trigger = BackgroundDrain(drain)
    trigger.kick()
    trigger._thread.join(10)  # the thread stops at its first failure
    with pytest.raises(RuntimeError, match="background drain failed: OSError") as kicked:
        trigger.kick()
    assert isinstance(kicked.value.__cause__, OSError)
    with pytest.raises(RuntimeError, match="background drain failed"):
        trigger.close()
