"""`staging.race_calendar`: DDL for both dialects, idempotent export of calendar items."""

from __future__ import annotations

import datetime as dt

import duckdb
import fakesnow
import pytest
import snowflake.connector

from f1common.events import CalendarItem, CalendarStatus
from f1common.sessions import SessionType
from grandprix_dashboards.calendar_export import COLUMN_NAMES, ddl, export_calendar
from grandprix_dashboards.sql import DialectName

START = dt.datetime(2025, 5, 4, 20, 0, tzinfo=dt.UTC)


def _item(round_: int, session: SessionType, status: CalendarStatus, **extra: object) -> CalendarItem:
    key = f"2025-{round_:02d}-{session.value}"
    return CalendarItem(pk=key, season=2025, round=round_, session=session, event_name="Miami Grand Prix",
                        session_name=session.fastf1_name, start_utc=START, end_utc=START + dt.timedelta(hours=2),
                        status=status, **extra)  # type: ignore[arg-type]


def test_columns_follow_calendar_item() -> None:
    assert set(COLUMN_NAMES) <= set(CalendarItem.model_fields)
    assert COLUMN_NAMES == ("pk", "season", "round", "session", "event_name", "start_utc", "end_utc", "status",
                            "attempt", "run_id", "ingested_at")
    assert "TIMESTAMP_TZ" in ddl(DialectName.SNOWFLAKE) and "TIMESTAMP WITH TIME ZONE" in ddl(DialectName.DUCKDB)


def test_export_replaces_rows_idempotently() -> None:
    con = duckdb.connect()
    items = [
        _item(6, SessionType.RACE, CalendarStatus.INGESTED, run_id="r1", attempt=1, ingested_at=START),
        _item(6, SessionType.QUALIFYING, CalendarStatus.FAILED, attempt=7),
    ]
    assert export_calendar(con, items) == 2
    assert export_calendar(con, items) == 2
    rows = con.execute("select pk, status, attempt, run_id, end_utc from staging.race_calendar order by pk").fetchall()
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [("2025-06-Q", "FAILED", 7, None),
                                                         ("2025-06-R", "INGESTED", 1, "r1")]
    assert rows[0][4] == START + dt.timedelta(hours=2)
    assert export_calendar(con, items[:1]) == 1
    assert con.execute("select count(*) from staging.race_calendar").fetchone() == (1,)


def test_duplicate_sessions_are_rejected() -> None:
    item = _item(6, SessionType.RACE, CalendarStatus.PENDING)
    with pytest.raises(ValueError, match="2025-06-R appears twice"):
        export_calendar(duckdb.connect(), [item, item])


def test_export_to_snowflake_with_its_ddl_and_paramstyle() -> None:
    """The Snowflake path (TIMESTAMP_TZ DDL, %s parameters) through fakesnow's Snowflake emulation."""
    items = [_item(5, SessionType.RACE, CalendarStatus.NOT_AVAILABLE, attempt=2)]
    with fakesnow.patch():
        con = snowflake.connector.connect(database="GPI_LOCAL", schema="STAGING")
        cursor = con.cursor()
        assert export_calendar(cursor, items, DialectName.SNOWFLAKE) == 1
        cursor.execute("select pk, status, attempt from staging.race_calendar")
        assert cursor.fetchall() == [("2025-05-R", "NOT_AVAILABLE", 2)]
        con.close()
