"""The warehouse contract: staging DDL from the dataset schemas (run on DuckDB and fakesnow), race_calendar and
load_health."""

from __future__ import annotations

import datetime as dt

import duckdb
import fakesnow
import pytest
import snowflake.connector

from f1common.datasets import DATASETS, ColumnType, Dataset, dataset_spec
from f1common.events import CalendarItem, CalendarStatus
from f1common.sessions import SessionType
from f1common.testing import START, calendar_item
from f1common.warehouse import (
    LOAD_HEALTH_COLUMN_NAMES,
    METADATA_COLUMNS,
    RACE_CALENDAR_COLUMN_NAMES,
    StagingColumn,
    UnsafeIdentifier,
    add_column_sql,
    all_ddl,
    column_type,
    load_health_ddl,
    quote_identifier,
    race_calendar_ddl,
    replace_load_health,
    replace_race_calendar,
    staging_table_sql,
    table_name,
)


def test_duckdb_ddl_creates_every_staging_table_with_columns_in_order() -> None:
    con = duckdb.connect()
    for _ in range(2):  # idempotent
        for statement in all_ddl("duckdb"):
            con.execute(statement)
    for spec in DATASETS.values():
        described = con.execute(f"DESCRIBE staging.{table_name(spec, 'duckdb')}").fetchall()
        names = [r[0] for r in described]
        assert names == [*spec.column_names, *METADATA_COLUMNS]
        types = dict((r[0], r[1]) for r in described)
        for col in spec.columns():
            assert types[col.name] == column_type(col.type, "duckdb")
            assert dict((r[0], r[2]) for r in described)[col.name] == ("YES" if col.nullable else "NO")
        assert types["_load_time"] == "TIMESTAMP WITH TIME ZONE" and types["_row_number"] == "BIGINT"
    tables = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables " "WHERE table_schema = 'staging'"
        ).fetchall()
    }
    assert {"laps_staging", "drivers_info_staging", "load_history", "load_quarantine", "load_pending"} <= tables
    history = con.execute("DESCRIBE staging.load_history").fetchall()
    assert [(r[0], r[1]) for r in history] == [
        ("file_name", "VARCHAR"),
        ("run_id", "VARCHAR"),
        ("dataset", "VARCHAR"),
        ("rows", "BIGINT"),
        ("loaded_at", "TIMESTAMP WITH TIME ZONE"),
        ("status", "VARCHAR"),
    ]


def test_snowflake_ddl_runs_on_fakesnow() -> None:
    with fakesnow.patch():
        conn = snowflake.connector.connect(database="GPI_DDL", schema="STAGING")
        cur = conn.cursor()
        for statement in all_ddl("snowflake"):
            cur.execute(statement)
        cur.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'LAPS_STAGING' ORDER BY ordinal_position"
        )
        columns = cur.fetchall()
        assert [c[0] for c in columns] == [
            c.upper() for c in (*dataset_spec(Dataset.LAPS).column_names, *METADATA_COLUMNS)
        ]
        assert dict(columns)["LAP_START_TIME_UTC"] == "TIMESTAMP_TZ"
        cur.execute('SELECT file_name, "ROWS" FROM STAGING.LOAD_HISTORY')
        assert cur.fetchall() == []


def test_types_per_dialect() -> None:
    assert column_type(ColumnType.TIMESTAMP, "snowflake") == "TIMESTAMP_TZ"
    assert column_type(ColumnType.INT, "snowflake") == "NUMBER(38,0)"
    assert "sample_time_ms BIGINT NOT NULL" in staging_table_sql(Dataset.WEATHER, "duckdb")
    assert "air_temp_c FLOAT," in staging_table_sql(Dataset.WEATHER, "snowflake")
    weather = staging_table_sql(Dataset.WEATHER, "snowflake")
    assert weather.startswith("CREATE TABLE IF NOT EXISTS STAGING.WEATHER_STAGING")
    with pytest.raises(ValueError, match=r"expected one of \['duckdb', 'snowflake'\]"):
        column_type(ColumnType.INT, "postgres")  # type: ignore[arg-type]


# --- race_calendar ---


def test_columns_follow_calendarcalendar_item() -> None:
    assert set(RACE_CALENDAR_COLUMN_NAMES) <= set(CalendarItem.model_fields)
    assert RACE_CALENDAR_COLUMN_NAMES == (
        "pk",
        "season",
        "round",
        "session",
        "event_name",
        "start_utc",
        "end_utc",
        "status",
        "attempt",
        "run_id",
        "ingested_at",
    )
    assert "TIMESTAMP_TZ" in race_calendar_ddl("snowflake")
    assert "TIMESTAMP WITH TIME ZONE" in race_calendar_ddl("duckdb")


def test_export_replaces_rows_idempotently() -> None:
    con = duckdb.connect()
    items = [
        calendar_item(6, SessionType.RACE, CalendarStatus.INGESTED, run_id="r1", attempt=1, ingested_at=START),
        calendar_item(6, SessionType.QUALIFYING, CalendarStatus.FAILED, attempt=7),
    ]
    assert replace_race_calendar(con, items) == 2
    assert replace_race_calendar(con, items) == 2
    rows = con.execute("select pk, status, attempt, run_id, end_utc from staging.race_calendar order by pk").fetchall()
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("2025-06-Q", "FAILED", 7, None),
        ("2025-06-R", "INGESTED", 1, "r1"),
    ]
    assert rows[0][4] == START + dt.timedelta(hours=2)
    assert replace_race_calendar(con, items[:1]) == 1
    assert con.execute("select count(*) from staging.race_calendar").fetchone() == (1,)


def test_duplicate_sessions_are_rejected() -> None:
    item = calendar_item(6, SessionType.RACE, CalendarStatus.PENDING)
    with pytest.raises(ValueError, match="2025-06-R appears twice"):
        replace_race_calendar(duckdb.connect(), [item, item])


def test_export_to_snowflake_with_its_ddl_and_paramstyle() -> None:
    """The Snowflake path (TIMESTAMP_TZ DDL, %s parameters) through fakesnow's Snowflake emulation."""
    items = [calendar_item(5, SessionType.RACE, CalendarStatus.NOT_AVAILABLE, attempt=2)]
    with fakesnow.patch():
        con = snowflake.connector.connect(database="GPI_LOCAL", schema="STAGING")
        cursor = con.cursor()
        assert replace_race_calendar(cursor, items, "snowflake") == 1
        cursor.execute("select pk, status, attempt from staging.race_calendar")
        assert cursor.fetchall() == [("2025-05-R", "NOT_AVAILABLE", 2)]
        con.close()


def test_unknown_dialect_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown warehouse dialect 'postgres'"):
        replace_race_calendar(duckdb.connect(), [], "postgres")  # type: ignore[arg-type]


def test_every_contract_column_is_a_safe_identifier_quoted_as_its_unquoted_spelling() -> None:
    for spec in DATASETS.values():
        for name in [c.name for c in spec.columns()] + list(METADATA_COLUMNS):
            assert quote_identifier(name, "duckdb") == f'"{name}"'
            assert quote_identifier(name, "snowflake") == f'"{name.upper()}"'


@pytest.mark.parametrize(
    "name",
    ["x VARCHAR; DELETE FROM staging.laps_staging; COMMIT; --", 'a"b', "Note", "", "a b", "é", "n" * 64, "1st", 7],
)
def test_names_off_the_pattern_are_refused_with_a_bounded_quote(name: object) -> None:
    with pytest.raises(UnsafeIdentifier, match="not a safe SQL identifier") as refused:
        quote_identifier(name, "duckdb")
    assert len(str(refused.value)) < 200
    with pytest.raises(UnsafeIdentifier):
        add_column_sql(dataset_spec(Dataset.LAPS), StagingColumn(str(name), "VARCHAR", True), "snowflake")
    long = "x" * 10_000 + " DROP"
    with pytest.raises(UnsafeIdentifier) as refused:
        quote_identifier(long, "snowflake")
    assert len(str(refused.value)) < 200


def test_a_quoted_new_column_named_like_a_keyword_is_added_in_duckdb() -> None:
    con = duckdb.connect()
    for statement in all_ddl("duckdb"):
        con.execute(statement)
    spec = dataset_spec(Dataset.LAPS)
    for _ in range(2):  # IF NOT EXISTS
        con.execute(
            add_column_sql(spec, StagingColumn("select", column_type(ColumnType.STRING, "duckdb"), True), "duckdb")
        )
    assert "select" in [r[0] for r in con.execute("DESCRIBE staging.laps_staging").fetchall()]


# --- load_health ---


def _finding(subject: str, status: str | None = "LOADED", kind: str = "file") -> tuple[object, ...]:
    return (kind, subject, "laps", "r1", status, status == "LOADED", None, None, START, START)


def test_load_health_is_replaced_whole_and_a_failed_write_keeps_the_previous_check() -> None:
    con = duckdb.connect()
    assert replace_load_health(con, [_finding("a"), _finding("b", "MISSING")]) == 2
    assert replace_load_health(con, [_finding("a"), _finding("b", "MISSING")]) == 2  # a rerun doubles nothing
    with pytest.raises(duckdb.ConstraintException):  # raised mid-write: the transaction rolls back
        replace_load_health(con, [_finding("a"), _finding("c", None)])
    rows = con.execute("select subject, status, healthy from staging.load_health order by 1").fetchall()
    assert rows == [("a", "LOADED", True), ("b", "MISSING", False)]
    with pytest.raises(ValueError, match="appears twice"):
        replace_load_health(con, [_finding("a"), _finding("a", "FAILED")])
    assert replace_load_health(con, [_finding("x", "RUNNING", "pipe")]) == 1
    assert con.execute("select kind, subject from staging.load_health").fetchall() == [("pipe", "x")]
    assert tuple(r[0] for r in con.execute("describe staging.load_health").fetchall()) == LOAD_HEALTH_COLUMN_NAMES
    assert "TIMESTAMP_TZ" in load_health_ddl("snowflake") and "BOOLEAN" in load_health_ddl("snowflake")
