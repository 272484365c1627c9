"""The embedded stack as the reliability tests drive it: the services' handlers and plain functions on a
moto server with the platform's resources (the local stack's own provisioning) and a DuckDB warehouse."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from f1common.clients import aws_client
from f1common.datasets import SESSION_DATASETS, dataset_spec
from f1common.events import CalendarItem
from f1common.layout import MANIFEST_PREFIX, parse_manifest_key
from f1common.manifest import Manifest
from f1common.sessions import SessionId
from f1common.settings import Settings
from grandprix_local.pipeline import LocalPipeline

# staging table -> natural key, of every session dataset (f1common's contract)
NATURAL_KEYS = {dataset_spec(d).staging_table.lower(): dataset_spec(d).natural_key for d in SESSION_DATASETS}


@dataclass
class Stack:
    settings: Settings
    pipeline: LocalPipeline
    warehouse: Path

    @property
    def s3(self) -> Any:
        return aws_client("s3", self.settings)

    @property
    def dynamodb(self) -> Any:
        return aws_client("dynamodb", self.settings)

    def ingest(self, key: str, attempt: int = 1) -> dict[str, Any]:
        """One delivery of the ingestion request for `key` to the ingestion service (its event router)."""
        from ingestion.handler import route

        session = SessionId.parse(key)
        event = {"season": session.season, "round": session.round, "session": session.session.code,
                 "attempt": attempt}
        return route(event, settings=self.settings, s3=self.s3, dynamodb=self.dynamodb)

    def drain(self) -> Any:
        """The loader: every S3 notification on its queue into DuckDB staging; returns the LoadReport."""
        return self.pipeline.drain_loader()

    def redeliver(self, keys: Sequence[str], times: int) -> None:
        """S3 notifications for `keys` sent again `times` times (SQS delivers at least once)."""
        sqs = aws_client("sqs", self.settings)
        records = [
            {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
             "s3": {"bucket": {"name": self.settings.bucket}, "object": {"key": key}}}
            for key in keys
        ]
        for _ in range(times):
            sqs.send_message(QueueUrl=self.pipeline.resources.loader_queue_url, MessageBody=json.dumps(
                {"Records": records}))

    def keys(self, prefix: str = "") -> list[str]:
        from ingestion.landing import list_keys

        return list_keys(self.s3, self.settings.bucket, prefix)

    def manifests(self) -> dict[str, Manifest]:
        out = {}
        for key in self.keys(MANIFEST_PREFIX):
            body = self.s3.get_object(Bucket=self.settings.bucket, Key=key)["Body"].read()
            out[parse_manifest_key(key)] = Manifest.from_json(body)
        return out

    def calendar_item(self, key: str) -> CalendarItem:
        return next(i for i in self.pipeline.calendar() if i.session_id.key == key)

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            return con.execute(sql, list(params)).fetchall()
        finally:
            con.close()

    def session_rows(self, table: str, key: str) -> int:
        session = SessionId.parse(key)
        rows = self.query(
            f"select count(*) from staging.{table} where season = ? and round = ? and session = ?",
            session.season, session.round, session.session.code,
        )
        return int(rows[0][0])

    def duplicates(self, table: str) -> int:
        """Rows beyond the first of each natural key in a staging table."""
        columns = ", ".join(NATURAL_KEYS[table])
        rows = self.query(f"select count(*) - count(distinct ({columns})) from staging.{table}")
        return int(rows[0][0])


def run_dbt_facts(warehouse: Path, artifacts: Path) -> Any:
    """`dbt run` of the laps fact and what it needs (the rest of the project has no bearing here)."""
    from dbt_runner.runner import run_dbt

    return run_dbt(["run", "--select", "+fct_laps", "--quiet"], warehouse_path=warehouse, artifacts_dir=artifacts)
