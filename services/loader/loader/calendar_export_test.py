"""`staging.race_calendar` exported from the DynamoDB race calendar, by the loader and its health Lambda."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import boto3
import duckdb
import fakesnow
import pytest
import snowflake.connector
from boto3.dynamodb.types import TypeSerializer

from f1common.events import CalendarStatus
from f1common.sessions import SessionType
from f1common.testing import START, calendar_item
from loader import load_health
from loader.calendar_export import export_calendar_from_dynamodb
from loader.conftest import BUCKET, REGION, emf_metrics, lambda_context, private_key_pem
from loader.handler import health_handler
from loader.snowflake_warehouse import SnowflakeWarehouse

TABLE_NAME = "gpi-test-race-calendar"


@pytest.fixture
def calendar_table(aws: None) -> Any:
    """The race calendar in moto: session items as the scheduler writes them, plus an idempotency record
    and a corrupt session item."""
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName=TABLE_NAME,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )
    serializer = TypeSerializer()
    items = [
        calendar_item(
            6, SessionType.RACE, CalendarStatus.INGESTED, run_id="r1", attempt=1, ingested_at=START, rows={"laps": 1200}
        ),
        calendar_item(6, SessionType.QUALIFYING, CalendarStatus.FAILED, attempt=7),
    ]
    for item in items:
        values = item.model_dump(mode="json", exclude_none=True)
        client.put_item(TableName=TABLE_NAME, Item={k: serializer.serialize(v) for k, v in values.items()})
    client.put_item(TableName=TABLE_NAME, Item={"pk": {"S": "idempotency#2025-06-R#1"}, "run_id": {"S": "r1"}})
    client.put_item(TableName=TABLE_NAME, Item={"pk": {"S": "2025-07-R"}, "season": {"N": "2025"}})
    return client


def test_export_from_dynamodb_to_duckdb_skips_other_items_and_reports_bad_ones(calendar_table: Any) -> None:
    con = duckdb.connect()
    result = export_calendar_from_dynamodb(calendar_table, TABLE_NAME, con, "duckdb")
    assert (result.exported, result.skipped) == (2, 1)
    assert [i.pk for i in result.invalid] == ["2025-07-R"]
    assert "calendar item 2025-07-R" in result.invalid[0].error and "event_name" in result.invalid[0].error
    rows = con.execute(
        "select pk, season, round, session, status, attempt, run_id, start_utc, ingested_at "
        "from staging.race_calendar order by pk"
    ).fetchall()
    assert rows == [
        ("2025-06-Q", 2025, 6, "Q", "FAILED", 7, None, START, None),
        ("2025-06-R", 2025, 6, "R", "INGESTED", 1, "r1", START, START),
    ]
    # Idempotent: a second export replaces the rows, and a session deleted from DynamoDB leaves the table.
    calendar_table.delete_item(TableName=TABLE_NAME, Key={"pk": {"S": "2025-06-Q"}})
    assert export_calendar_from_dynamodb(calendar_table, TABLE_NAME, con, "duckdb").exported == 1
    assert con.execute("select pk from staging.race_calendar").fetchall() == [("2025-06-R",)]


def test_export_from_dynamodb_to_snowflake(calendar_table: Any) -> None:
    with fakesnow.patch():
        con = snowflake.connector.connect(database="GPI_LOCAL", schema="STAGING")
        cursor = con.cursor()
        result = export_calendar_from_dynamodb(calendar_table, TABLE_NAME, cursor, "snowflake")
        assert result.exported == 2
        cursor.execute("select pk, status, attempt, run_id from staging.race_calendar order by pk")
        assert cursor.fetchall() == [("2025-06-Q", "FAILED", 7, None), ("2025-06-R", "INGESTED", 1, "r1")]
        con.close()


def test_health_handler_exports_the_calendar_to_snowflake(
    calendar_table: Any,
    s3: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The hourly loader-health Lambda (key-pair connection to fakesnow) exports the calendar table it is configured
    with, after the load-health check (no manifests landed: nothing to check)."""
    key_file = tmp_path / "rsa_key.p8"
    key_file.write_bytes(private_key_pem())
    env = {
        "GPI_WAREHOUSE": "snowflake",
        "GPI_SNOWFLAKE_ACCOUNT": "gpi-test",
        "GPI_SNOWFLAKE_USER": "LOADER",
        "GPI_SNOWFLAKE_PRIVATE_KEY_PATH": str(key_file),
        "GPI_SNOWFLAKE_DATABASE": "GPI_TEST",
        "GPI_SNOWFLAKE_ROLE": "LOADER",
        "GPI_SNOWFLAKE_WAREHOUSE": "LOAD_WH",
        "GPI_LANDING_BUCKET": BUCKET,
        "GPI_CALENDAR_TABLE": TABLE_NAME,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    # fakesnow has no COPY_HISTORY table function nor SYSTEM$PIPE_STATUS: the real check reads LOAD_HISTORY instead.
    real_check = load_health.check_recent_loads
    monkeypatch.setattr(
        load_health,
        "check_recent_loads",
        functools.partial(real_check, history_source="LOAD_HISTORY", check_pipes=False),
    )
    with fakesnow.patch():
        setup = snowflake.connector.connect(database="GPI_TEST", schema="STAGING")
        SnowflakeWarehouse(setup, database="GPI_TEST", work_dir=tmp_path / "work").ensure_schema()  # Pulumi's tables
        setup.close()
        result = health_handler({"lookback_hours": 1}, lambda_context("gpi-test-loader-health"))
        con = snowflake.connector.connect(database="GPI_TEST", schema="STAGING")
        cursor = con.cursor()
        cursor.execute("select pk, status from staging.race_calendar order by pk")
        assert cursor.fetchall() == [("2025-06-Q", "FAILED"), ("2025-06-R", "INGESTED")]
        con.close()
    assert result["calendar"]["exported"] == 2 and result["calendar"]["skipped"] == 1
    assert [bad["pk"] for bad in result["calendar"]["invalid"]] == ["2025-07-R"]
    emf = emf_metrics(capsys)
    assert emf and (emf[-1]["CalendarSessionsExported"], emf[-1]["CalendarItemsInvalid"]) == ([2.0], [1.0])
