"""The warehouse contract: the staging schema, its tables and their DDL, for DuckDB and Snowflake.

Pure Python (no database driver is imported): the loader writes these tables, the Pulumi Snowflake
stack creates them (through :mod:`f1common.snowpipe`), the dashboards read them.

Every staging table lives in schema :data:`STAGING_SCHEMA` and is named ``spec.staging_table`` with
unquoted identifiers (DuckDB resolves them case-insensitively, Snowflake upper-cases them). Its columns
are the dataset's columns in order, followed by the load metadata columns of :data:`METADATA_COLUMNS`.
Bookkeeping tables in the same schema: ``load_history`` (one row per loaded file: a path is never
loaded twice), ``load_quarantine`` (files refused with the error) and ``load_pending`` (files seen
before the manifest that lists them); ``load_manifests`` (every manifest: dbt derives the complete
runs from it, in loader and Snowpipe mode alike); ``race_calendar``, the DynamoDB calendar's session
items exported for the pipeline-health dashboard (:func:`replace_race_calendar`); and ``load_health``, the hourly
load-health check's findings for the same dashboard (:func:`replace_load_health`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from typing import Any, Literal, NamedTuple, Protocol

from f1common.datasets import DATASETS, ColumnType, Dataset, DatasetSpec, dataset_spec
from f1common.events import CalendarItem

Dialect = Literal["duckdb", "snowflake"]
DIALECTS: tuple[Dialect, ...] = ("duckdb", "snowflake")

STAGING_SCHEMA = "staging"  # unquoted: STAGING in Snowflake (see schema_name)
LOAD_HISTORY = "load_history"
LOAD_QUARANTINE = "load_quarantine"
LOAD_PENDING = "load_pending"
RACE_CALENDAR = "race_calendar"
LOAD_MANIFESTS = "load_manifests"
LOAD_HEALTH = "load_health"  # the load-health check's findings (replace_load_health)
LOAD_CLAIMS = "load_claims"  # the one key a file's load and its quarantine both claim

# The services' Snowflake sessions (the loader's, the transformer's reads) bound every wait below the Lambda
# timeout (the AWS stack refuses a loader timeout shorter than that), so a loader never dies mid-statement and leaves
# a detached query holding its locks:
# - a lock held by another loader (the claim's UPDATE serialises the file loads) fails after LOCK_TIMEOUT, and the
#   file's message is retried;
# - no statement runs longer than STATEMENT_TIMEOUT_IN_SECONDS;
# - ABORT_DETACHED_QUERY: a query whose client vanished anyway (a killed Lambda) is aborted 5 minutes after its
#   connection was lost, and Snowflake aborts an idle detached transaction that blocks another after 5 minutes.
SNOWFLAKE_LOCK_TIMEOUT_SECONDS = 120
SNOWFLAKE_STATEMENT_TIMEOUT_SECONDS = 240
SNOWFLAKE_SESSION_PARAMETERS: Mapping[str, str | int | bool] = {
    "TIMEZONE": "UTC",
    "LOCK_TIMEOUT": SNOWFLAKE_LOCK_TIMEOUT_SECONDS,
    "STATEMENT_TIMEOUT_IN_SECONDS": SNOWFLAKE_STATEMENT_TIMEOUT_SECONDS,
    "ABORT_DETACHED_QUERY": True,
}

LOAD_TIME = "_load_time"
FILE_NAME = "_file_name"
RUN_ID = "_run_id"
ROW_NUMBER = "_row_number"


# --- identifiers ---------------------------------------------------------------------------------

# A name from data (a Parquet column, a dataset) becomes an SQL identifier only if it matches this pattern,
# and is then quoted (:func:`quote_identifier`): lower-case snake case, at most 63 characters, like every
# column of the contract (f1common.datasets).
IDENTIFIER_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_SHOWN = 80  # characters of a refused name quoted in the error


class UnsafeIdentifier(ValueError):
    """A name that cannot become an SQL identifier; the message quotes a bounded prefix of it."""


def check_identifier(name: object) -> str:
    """`name` when it matches :data:`IDENTIFIER_RE`; raises :class:`UnsafeIdentifier` otherwise."""
    if not isinstance(name, str) or IDENTIFIER_RE.fullmatch(name) is None:
        shown = repr(name[:_SHOWN] + "..." if isinstance(name, str) and len(name) > _SHOWN else name)
        raise UnsafeIdentifier(f"{shown} is not a safe SQL identifier (expected {IDENTIFIER_RE.pattern})")
    return name


def quote_identifier(name: object, dialect: Dialect) -> str:
    """`name`, checked (:func:`check_identifier`) and quoted for the dialect.

    Quoted as the spelling its unquoted form resolves to (``"note"`` in DuckDB, ``"NOTE"`` in Snowflake),
    so that quoted and unquoted uses name the same column.
    """
    checked = check_identifier(name)
    return f'"{checked.upper()}"' if _check(dialect) == "snowflake" else f'"{checked}"'


class StagingColumn(NamedTuple):
    """One warehouse column: name, dialect type, nullable."""

    name: str
    type: str
    nullable: bool


_TYPES: Mapping[Dialect, Mapping[ColumnType, str]] = {
    "duckdb": {
        ColumnType.STRING: "VARCHAR",
        ColumnType.INT: "BIGINT",
        ColumnType.FLOAT: "DOUBLE",
        ColumnType.BOOL: "BOOLEAN",
        ColumnType.TIMESTAMP: "TIMESTAMP WITH TIME ZONE",
        ColumnType.DATE: "DATE",
    },
    "snowflake": {
        ColumnType.STRING: "VARCHAR",
        ColumnType.INT: "NUMBER(38,0)",
        ColumnType.FLOAT: "FLOAT",
        ColumnType.BOOL: "BOOLEAN",
        ColumnType.TIMESTAMP: "TIMESTAMP_TZ",
        ColumnType.DATE: "DATE",
    },
}


def _check(dialect: str) -> Dialect:
    if dialect not in DIALECTS:
        raise ValueError(f"unknown warehouse dialect {dialect!r}; expected one of {list(DIALECTS)}")
    return dialect  # type: ignore[return-value]


def column_type(ctype: ColumnType, dialect: Dialect) -> str:
    """The warehouse type of a logical column type."""
    return _TYPES[_check(dialect)][ctype]


def metadata_columns(dialect: Dialect) -> list[StagingColumn]:
    """The load metadata columns every staging table ends with (load time in UTC)."""
    return [
        StagingColumn(LOAD_TIME, column_type(ColumnType.TIMESTAMP, dialect), False),
        StagingColumn(FILE_NAME, column_type(ColumnType.STRING, dialect), False),
        StagingColumn(RUN_ID, column_type(ColumnType.STRING, dialect), False),
        StagingColumn(ROW_NUMBER, column_type(ColumnType.INT, dialect), False),
    ]


METADATA_COLUMNS: tuple[str, ...] = (LOAD_TIME, FILE_NAME, RUN_ID, ROW_NUMBER)


def table_name(spec: DatasetSpec, dialect: Dialect) -> str:
    """The unquoted staging table name: lower case in DuckDB (``laps_staging``), upper case in Snowflake."""
    return spec.staging_table.lower() if _check(dialect) == "duckdb" else spec.staging_table.upper()


def schema_name(dialect: Dialect) -> str:
    return STAGING_SCHEMA if _check(dialect) == "duckdb" else STAGING_SCHEMA.upper()


def staging_relation(table: str) -> str:
    """`staging.<table>`, as SQL that both dialects read (unquoted identifiers)."""
    return f"{STAGING_SCHEMA}.{table}"


def dataset_columns(spec: DatasetSpec, dialect: Dialect) -> list[StagingColumn]:
    return [StagingColumn(c.name, column_type(c.type, dialect), c.nullable) for c in spec.columns()]


def staging_columns(spec: DatasetSpec, dialect: Dialect) -> list[StagingColumn]:
    """The dataset's columns in order, then the load metadata columns."""
    return dataset_columns(spec, dialect) + metadata_columns(dialect)


def _column_sql(col: StagingColumn) -> str:
    return f"{col.name} {col.type}" + ("" if col.nullable else " NOT NULL")


def create_table_sql(schema: str, table: str, columns: list[StagingColumn], extra: str = "") -> str:
    body = ",\n    ".join([_column_sql(c) for c in columns] + ([extra] if extra else []))
    return f"CREATE TABLE IF NOT EXISTS {schema}.{table} (\n    {body}\n)"


def staging_table_sql(dataset: Dataset | str | DatasetSpec, dialect: Dialect, schema: str | None = None) -> str:
    spec = dataset if isinstance(dataset, DatasetSpec) else dataset_spec(dataset)
    return create_table_sql(schema or schema_name(dialect), table_name(spec, dialect), staging_columns(spec, dialect))


def rows_column(dialect: Dialect) -> str:
    """`load_history.rows`: ROWS is a reserved word in Snowflake, so it is quoted there (as "ROWS")."""
    return "rows" if _check(dialect) == "duckdb" else '"ROWS"'


_JSON_TYPES: Mapping[Dialect, str] = {"duckdb": "JSON", "snowflake": "VARIANT"}


def bookkeeping_columns(dialect: Dialect) -> dict[str, list[StagingColumn]]:
    """Columns of ``load_history``, ``load_quarantine``, ``load_pending``, ``load_manifests`` and ``load_claims``
    (timestamps UTC)."""
    s = column_type(ColumnType.STRING, dialect)
    ts = column_type(ColumnType.TIMESTAMP, dialect)
    i = column_type(ColumnType.INT, dialect)
    json = _JSON_TYPES[_check(dialect)]
    return {
        LOAD_HISTORY: [
            StagingColumn("file_name", s, False),
            StagingColumn("run_id", s, False),
            StagingColumn("dataset", s, False),
            StagingColumn(rows_column(dialect), i, False),
            StagingColumn("loaded_at", ts, False),
            StagingColumn("status", s, False),
        ],
        LOAD_QUARANTINE: [
            StagingColumn("file_name", s, False),
            StagingColumn("run_id", s, True),
            StagingColumn("dataset", s, True),
            StagingColumn("error", s, False),
            StagingColumn("quarantined_at", ts, False),
        ],
        LOAD_PENDING: [
            StagingColumn("file_name", s, False),
            StagingColumn("run_id", s, False),
            StagingColumn("dataset", s, False),
            StagingColumn("reason", s, False),
            StagingColumn("seen_at", ts, False),
        ],
        # One row per manifest, in the manifest's own terms (Snowpipe's manifests pipe writes the same).
        LOAD_MANIFESTS: [
            StagingColumn("run_id", s, False),
            StagingColumn("source", s, False),
            StagingColumn("season", i, True),
            StagingColumn("round", i, True),
            StagingColumn("session", s, True),
            StagingColumn("created_at", ts, False),
            StagingColumn("files", json, False),
            StagingColumn("manifest_key", s, False),
            StagingColumn("loaded_at", ts, False),
        ],
        # The file, the outcome its claim chose ('LOADED', 'QUARANTINED'), when.
        LOAD_CLAIMS: [
            StagingColumn("file_name", s, False),
            StagingColumn("state", s, False),
            StagingColumn("claimed_at", ts, False),
        ],
    }


def bookkeeping_sql(dialect: Dialect, schema: str | None = None) -> list[str]:
    schema = schema or schema_name(dialect)
    # A file's claim (load_claims) by the transaction that loads or quarantines it, then its load_history or
    # load_quarantine row. DuckDB enforces the keys. Snowflake does not (its loader claims with one MERGE into
    # load_claims, which Snowflake runs one at a time per table): load_quarantine has none there.
    quarantine_key = "PRIMARY KEY (file_name)" if dialect == "duckdb" else ""
    keys = {
        LOAD_HISTORY: "PRIMARY KEY (file_name)",
        LOAD_QUARANTINE: quarantine_key,
        LOAD_PENDING: "PRIMARY KEY (file_name)",
        LOAD_MANIFESTS: "PRIMARY KEY (run_id)",
        LOAD_CLAIMS: "PRIMARY KEY (file_name)",
    }
    statements = [
        create_table_sql(schema, name if dialect == "duckdb" else name.upper(), cols, keys[name])
        for name, cols in bookkeeping_columns(dialect).items()
    ]
    return statements


def all_ddl(dialect: Dialect, schema: str | None = None) -> list[str]:
    """Every statement creating the staging schema, its tables and the bookkeeping tables (idempotent)."""
    schema = schema or schema_name(dialect)
    return [
        f"CREATE SCHEMA IF NOT EXISTS {schema}",
        *(staging_table_sql(spec, dialect, schema) for spec in DATASETS.values()),
        *bookkeeping_sql(dialect, schema),
    ]


def add_column_sql(spec: DatasetSpec, column: StagingColumn, dialect: Dialect, schema: str | None = None) -> str:
    """Adds a new nullable column to a staging table (additive schema drift); the name comes from a file, so it
    is checked and quoted (:func:`quote_identifier`)."""
    table = f"{schema or schema_name(dialect)}.{table_name(spec, dialect)}"
    return f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {quote_identifier(column.name, dialect)} {column.type}"


# --- race_calendar -------------------------------------------------------------------------------

# The calendar item fields the dashboards read, with their logical types (``pk`` is the primary key).
RACE_CALENDAR_COLUMNS: tuple[tuple[str, ColumnType], ...] = (
    ("pk", ColumnType.STRING),
    ("season", ColumnType.INT),
    ("round", ColumnType.INT),
    ("session", ColumnType.STRING),
    ("event_name", ColumnType.STRING),
    ("start_utc", ColumnType.TIMESTAMP),
    ("end_utc", ColumnType.TIMESTAMP),
    ("status", ColumnType.STRING),
    ("attempt", ColumnType.INT),
    ("run_id", ColumnType.STRING),
    ("ingested_at", ColumnType.TIMESTAMP),
)
RACE_CALENDAR_COLUMN_NAMES = tuple(name for name, _ in RACE_CALENDAR_COLUMNS)


def _exported_table_ddl(
    table: str, columns: Sequence[tuple[str, ColumnType]], key: Sequence[str], required: Iterable[str], dialect: Dialect
) -> str:
    """`CREATE SCHEMA ...;\nCREATE TABLE IF NOT EXISTS staging.<table> (...)`: a table the loader replaces whole."""
    not_null = {*key, *required}
    cols = ",\n  ".join(
        f"{name} {column_type(ctype, dialect)}{' NOT NULL' if name in not_null else ''}" for name, ctype in columns
    )
    return (
        f"CREATE SCHEMA IF NOT EXISTS {STAGING_SCHEMA};\n"
        f"CREATE TABLE IF NOT EXISTS {staging_relation(table)} (\n  {cols},\n  PRIMARY KEY ({', '.join(key)})\n)"
    )


def race_calendar_ddl(dialect: Dialect) -> str:
    """`CREATE SCHEMA ...;\nCREATE TABLE IF NOT EXISTS staging.race_calendar (...)` for a dialect."""
    return _exported_table_ddl(RACE_CALENDAR, RACE_CALENDAR_COLUMNS, ("pk",), (), dialect)


def race_calendar_row(item: CalendarItem) -> tuple[Any, ...]:
    values = item.model_dump(include=set(RACE_CALENDAR_COLUMN_NAMES))
    return tuple(v.value if isinstance(v := values[name], Enum) else v for name in RACE_CALENDAR_COLUMN_NAMES)


class Cursor(Protocol):
    """A DB-API cursor (a DuckDB connection or a Snowflake cursor)."""

    def execute(self, sql: str, /) -> Any:
        ...

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        ...


def _marker(dialect: Dialect) -> str:
    """The bound-parameter marker: DuckDB's `?`, the Snowflake connector's `%s` (pyformat)."""
    return "?" if _check(dialect) == "duckdb" else "%s"


def replace_rows(
    cursor: Cursor, ddl: str, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]], dialect: Dialect
) -> int:
    """Creates `table` if needed (`ddl`: statements separated by ";\n"), then replaces its rows with `rows` (values in
    `columns` order, as bound parameters) in one transaction; returns the number written."""
    dialect = _check(dialect)
    for statement in ddl.split(";\n"):
        cursor.execute(statement)
    placeholders = ", ".join([_marker(dialect)] * len(columns))
    insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
    cursor.execute("BEGIN")
    try:
        cursor.execute(f"DELETE FROM {table}")
        if rows:
            cursor.executemany(insert, rows)
    except Exception:
        cursor.execute("ROLLBACK")
        raise
    cursor.execute("COMMIT")
    return len(rows)


def replace_race_calendar(cursor: Cursor, items: Iterable[CalendarItem], dialect: Dialect = "duckdb") -> int:
    """Replaces the rows of `staging.race_calendar` with `items` in one transaction; returns the number written.

    Items with the same `pk` twice are an error (the calendar's key is unique).
    """
    dialect = _check(dialect)
    rows = [race_calendar_row(item) for item in items]
    seen: set[str] = set()
    for r in rows:
        if r[0] in seen:
            raise ValueError(f"calendar export: session {r[0]} appears twice")
        seen.add(r[0])
    return replace_rows(
        cursor, race_calendar_ddl(dialect), staging_relation(RACE_CALENDAR), RACE_CALENDAR_COLUMN_NAMES, rows, dialect
    )


# --- load_health -----------------------------------------------------------------------------------

# The hourly load-health check's findings (the loader's `load_health`), for the pipeline-health dashboard: one row
# per file of the checked manifests and per Snowpipe pipe, replaced by each check (so a rerun doubles nothing and
# a file that has loaded since shows LOADED). `status`: LOADED, FAILED, MISSING or IN_FLIGHT for a file; the pipe's
# execution state (RUNNING, PAUSED, ...) for a pipe. `healthy` is false for FAILED, MISSING and a pipe not running
# (or reporting an error); `reason` says why (bounded); `status_since` is when the subject entered its status.
FINDING_FILE = "file"
FINDING_PIPE = "pipe"
LOAD_HEALTH_COLUMNS: tuple[tuple[str, ColumnType], ...] = (
    ("kind", ColumnType.STRING),
    ("subject", ColumnType.STRING),
    ("dataset", ColumnType.STRING),
    ("run_id", ColumnType.STRING),
    ("status", ColumnType.STRING),
    ("healthy", ColumnType.BOOL),
    ("reason", ColumnType.STRING),
    ("pending_files", ColumnType.INT),
    ("status_since", ColumnType.TIMESTAMP),
    ("checked_at", ColumnType.TIMESTAMP),
)
LOAD_HEALTH_COLUMN_NAMES = tuple(name for name, _ in LOAD_HEALTH_COLUMNS)
REASON_CHARS = 300  # a finding's reason quotes at most this much of an error


def load_health_ddl(dialect: Dialect) -> str:
    """`CREATE SCHEMA ...;\nCREATE TABLE IF NOT EXISTS staging.load_health (...)` for a dialect."""
    required = ("status", "healthy", "status_since", "checked_at")
    return _exported_table_ddl(LOAD_HEALTH, LOAD_HEALTH_COLUMNS, ("kind", "subject"), required, dialect)


def replace_load_health(cursor: Cursor, rows: Sequence[tuple[Any, ...]], dialect: Dialect = "duckdb") -> int:
    """Replaces `staging.load_health` with one check's findings (values in :data:`LOAD_HEALTH_COLUMN_NAMES` order)."""
    keys = [(r[0], r[1]) for r in rows]
    if len(set(keys)) != len(keys):
        raise ValueError("load health: a subject appears twice in one check")
    return replace_rows(
        cursor, load_health_ddl(dialect), staging_relation(LOAD_HEALTH), LOAD_HEALTH_COLUMN_NAMES, rows, dialect
    )
