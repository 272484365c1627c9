"""The emulated SQS trigger: S3 notifications on the embedded stack's queue drained into the loader."""

from __future__ import annotations

import json
from pathlib import Path

from f1common.clients import aws_client
from f1common.datasets import dataset_spec
from f1common.layout import manifest_key
from f1common.manifest import Manifest
from f1common.settings import Settings
from f1common.testing import f1data_dir_or_skip
from grandprix_local.sqs_trigger import drain_queue
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
            report = drain_queue(sqs, url, s3=s3, warehouse=warehouse)

            assert sorted(report.keys(Outcome.LOADED)) == sorted(keys)
            for entry in manifest.files:
                assert warehouse.staging_rows(dataset_spec(entry.dataset)) == entry.rows
            assert sqs.receive_message(QueueUrl=url).get("Messages") is None  # all deleted
            assert drain_queue(sqs, url, s3=s3, warehouse=warehouse).results == []
