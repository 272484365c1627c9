"""`staging.race_calendar`: the DynamoDB race calendar copied into the warehouse for the dashboards.

Grafana reads the warehouse only, so the local stack exports the calendar's session items
(:class:`f1common.events.CalendarItem`) into this table; the pipeline-health dashboard finds the
sessions that are overdue or FAILED there. The export replaces the table's rows in one transaction
(the calendar is small: a few hundred sessions), so repeating it is idempotent.

The local stack calls :func:`export_calendar` with the items it scans from the DynamoDB table; in the
cloud the same DDL applies to Snowflake (`ddl(DialectName.SNOWFLAKE)`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from f1common.events import CalendarItem
from grandprix_dashboards.sql import DialectName

TABLE = "staging.race_calendar"

# (name, DuckDB type, Snowflake type)
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("pk", "VARCHAR", "VARCHAR"),
    ("season", "BIGINT", "NUMBER(38,0)"),
    ("round", "BIGINT", "NUMBER(38,0)"),
    ("session", "VARCHAR", "VARCHAR"),
    ("event_name", "VARCHAR", "VARCHAR"),
    ("start_utc", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_TZ"),
    ("end_utc", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_TZ"),
    ("status", "VARCHAR", "VARCHAR"),
    ("attempt", "BIGINT", "NUMBER(38,0)"),
    ("run_id", "VARCHAR", "VARCHAR"),
    ("ingested_at", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_TZ"),
)
COLUMN_NAMES = tuple(name for name, _, _ in COLUMNS)


def ddl(dialect: DialectName) -> str:
    """`CREATE TABLE IF NOT EXISTS staging.race_calendar (...)` for a dialect."""
    index = 1 if dialect is DialectName.DUCKDB else 2
    cols = ",\n  ".join(f"{c[0]} {c[index]}{' NOT NULL' if c[0] == 'pk' else ''}" for c in COLUMNS)
    return (f"CREATE SCHEMA IF NOT EXISTS staging;\n"
            f"CREATE TABLE IF NOT EXISTS {TABLE} (\n  {cols},\n  PRIMARY KEY (pk)\n)")


def row(item: CalendarItem) -> tuple[Any, ...]:
    return (
        item.pk,
        item.season,
        item.round,
        item.session.value,
        item.event_name,
        item.start_utc,
        item.end_utc,
        item.status.value,
        item.attempt,
        item.run_id,
        item.ingested_at,
    )


class Cursor(Protocol):
    def execute(self, sql: str, /) -> Any: ...

    def executemany(self, sql: str, parameters: Any, /) -> Any: ...


def export_calendar(cursor: Cursor, items: Iterable[CalendarItem], dialect: DialectName = DialectName.DUCKDB) -> int:
    """Replaces the rows of `staging.race_calendar` with `items`; returns the number written.

    `cursor` is a DuckDB connection or a Snowflake cursor; the rows are replaced in one transaction.
    Items with the same `pk` twice are an error (the calendar's key is unique).
    """
    rows = [row(item) for item in items]
    seen: set[str] = set()
    for r in rows:
        if r[0] in seen:
            raise ValueError(f"calendar export: session {r[0]} appears twice")
        seen.add(r[0])
    for statement in ddl(dialect).split(";\n"):
        cursor.execute(statement)
    marker = "?" if dialect is DialectName.DUCKDB else "%s"
    insert = f"INSERT INTO {TABLE} ({', '.join(COLUMN_NAMES)}) VALUES ({', '.join([marker] * len(COLUMNS))})"
    cursor.execute("BEGIN")
    try:
        cursor.execute(f"DELETE FROM {TABLE}")
        if rows:
            cursor.executemany(insert, rows)
    except Exception:
        cursor.execute("ROLLBACK")
        raise
    cursor.execute("COMMIT")
    return len(rows)
