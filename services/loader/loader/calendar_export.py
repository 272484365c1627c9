"""`staging.race_calendar`: the DynamoDB race calendar copied into the warehouse for the dashboards.

Grafana reads the warehouse only, so the loader exports the calendar's session items
(:class:`f1common.events.CalendarItem`) into this table; the pipeline-health dashboard finds the
sessions that are overdue or FAILED there. The export replaces the table's rows in one transaction
(the calendar is small: a few hundred sessions), so repeating it is idempotent.

- :func:`export_calendar` writes given items (the local stack passes the items it scans);
- :func:`export_calendar_from_dynamodb` scans the DynamoDB table itself (the loader's hourly
  ``health_handler`` runs it against Snowflake in the cloud).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from boto3.dynamodb.types import TypeDeserializer
from pydantic import ValidationError

from f1common.events import CalendarItem
from f1common.names import CALENDAR_KEY
from f1common.sessions import SessionId
from loader.ddl import Dialect

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

_DESERIALIZER = TypeDeserializer()


def _check(dialect: str) -> Dialect:
    if dialect not in ("duckdb", "snowflake"):
        raise ValueError(f"unknown warehouse dialect {dialect!r}; expected 'duckdb' or 'snowflake'")
    return dialect  # type: ignore[return-value]


def ddl(dialect: Dialect) -> str:
    """`CREATE TABLE IF NOT EXISTS staging.race_calendar (...)` for a dialect."""
    index = 1 if _check(dialect) == "duckdb" else 2
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


def export_calendar(cursor: Cursor, items: Iterable[CalendarItem], dialect: Dialect = "duckdb") -> int:
    """Replaces the rows of `staging.race_calendar` with `items`; returns the number written.

    `cursor` is a DuckDB connection or a Snowflake cursor; the rows are replaced in one transaction.
    Items with the same `pk` twice are an error (the calendar's key is unique).
    """
    dialect = _check(dialect)
    rows = [row(item) for item in items]
    seen: set[str] = set()
    for r in rows:
        if r[0] in seen:
            raise ValueError(f"calendar export: session {r[0]} appears twice")
        seen.add(r[0])
    for statement in ddl(dialect).split(";\n"):
        cursor.execute(statement)
    marker = "?" if dialect == "duckdb" else "%s"
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


@dataclass(frozen=True)
class InvalidCalendarItem:
    """A session item that could not be read as a :class:`CalendarItem`: reported, not exported."""

    pk: str
    error: str


@dataclass
class CalendarExport:
    exported: int = 0
    skipped: int = 0  # items that are not sessions (idempotency records, ...)
    invalid: list[InvalidCalendarItem] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"exported": self.exported, "skipped": self.skipped,
                "invalid": [{"pk": i.pk, "error": i.error} for i in self.invalid]}


def _is_session_key(pk: str) -> bool:
    try:
        SessionId.parse(pk)
    except ValueError:
        return False
    return True


def calendar_item(raw: Mapping[str, Any]) -> CalendarItem:
    """Reads a DynamoDB session item (attribute-value form); raises ValueError naming the item and its bad fields."""
    values = {name: _DESERIALIZER.deserialize(value) for name, value in raw.items()}
    pk = str(values.get(CALENDAR_KEY, "?"))
    try:
        item = CalendarItem.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(item)'}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"calendar item {pk}: {problems}") from None
    if item.session_id.key != item.pk:
        raise ValueError(f"calendar item {pk}: pk does not match season/round/session ({item.session_id.key})")
    return item


def _scan(dynamodb: Any, table: str) -> Iterator[dict[str, Any]]:
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = dynamodb.scan(**kwargs)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def export_calendar_from_dynamodb(dynamodb: Any, table: str, cursor: Cursor, dialect: Dialect) -> CalendarExport:
    """Scans the DynamoDB race calendar `table` and replaces `staging.race_calendar` with its session items.

    Items whose `pk` is not a session key (e.g. `idempotency#...`) are skipped; session items that do not
    parse are reported in the result (with the error naming the fields) and left out of the export.
    """
    result = CalendarExport()
    items: list[CalendarItem] = []
    for raw in _scan(dynamodb, table):
        pk = raw.get(CALENDAR_KEY, {}).get("S", "")
        if not _is_session_key(pk):
            result.skipped += 1
            continue
        try:
            items.append(calendar_item(raw))
        except ValueError as exc:
            result.invalid.append(InvalidCalendarItem(pk=pk, error=str(exc)))
    items.sort(key=lambda i: (i.start_utc, i.pk))
    result.exported = export_calendar(cursor, items, dialect)
    return result
