"""Staging DDL from the dataset schemas, executed on DuckDB and on fakesnow."""

from __future__ import annotations

import duckdb
import fakesnow
import pytest
import snowflake.connector

from f1common.datasets import DATASETS, ColumnType, Dataset, dataset_spec
from loader.ddl import METADATA_COLUMNS, all_ddl, column_type, staging_table_sql, table_name


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
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                        "WHERE table_schema = 'staging'").fetchall()}
    assert {"laps_staging", "drivers_info_staging", "load_history", "load_quarantine", "load_pending"} <= tables
    history = con.execute("DESCRIBE staging.load_history").fetchall()
    assert [(r[0], r[1]) for r in history] == [
        ("file_name", "VARCHAR"), ("run_id", "VARCHAR"), ("dataset", "VARCHAR"), ("rows", "BIGINT"),
        ("loaded_at", "TIMESTAMP WITH TIME ZONE"), ("status", "VARCHAR")]


def test_snowflake_ddl_runs_on_fakesnow() -> None:
    with fakesnow.patch():
        conn = snowflake.connector.connect(database="GPI_DDL", schema="STAGING")
        cur = conn.cursor()
        for statement in all_ddl("snowflake"):
            cur.execute(statement)
        cur.execute("SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_name = 'LAPS_STAGING' ORDER BY ordinal_position")
        columns = cur.fetchall()
        assert [c[0] for c in columns] == [c.upper() for c in (*dataset_spec(Dataset.LAPS).column_names,
                                                               *METADATA_COLUMNS)]
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
