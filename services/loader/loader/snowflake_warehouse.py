"""Snowflake as the loader's staging warehouse: the COPY for S3 notifications, with Snowpipe semantics.

:class:`SnowflakeWarehouse` plugs Snowflake into the same Snowpipe semantics as DuckDB (:mod:`loader.loading`),
for accounts without Snowpipe and for replays. Each file is downloaded from S3 and checked against its
manifest first (so a bad file is quarantined whole, exactly as locally), its load metadata columns
(``_file_name``, ``_run_id``, ``_row_number``) are added, and it is PUT to an internal stage (``stage``, a
parameter: internal stages need no storage integration) under the same key. Then one transaction runs the
COPY (the pipes' transformation, reading the metadata from the file and ``CURRENT_TIMESTAMP()`` as
``_load_time``; ``PURGE = TRUE`` removes the staged copy) and records ``load_history``. The staged file's
content is deterministic, so Snowflake's own COPY load metadata also skips a file staged twice (e.g. two
Lambdas racing on duplicate notifications).

Check-and-claim per file, one key (``file_name`` in ``load_claims``) whichever outcome: a MERGE first gives the
file a claim row, 'OPEN' (none for a file loaded or quarantined before ``load_claims`` existed); the transaction
that loads the file and the one that quarantines it then both begin with one UPDATE of that row from 'OPEN' to
their outcome. Snowflake enforces no keys, but it runs UPDATE (and MERGE) statements on one table one at a time,
each holding the table's lock until its transaction ends, so of two concurrent claims exactly one updates the
row; the other updates nothing, rolls back and raises :class:`loader.loading.AlreadyProcessed`. A transaction
that fails or dies leaves the row 'OPEN' for the retry. A conditional ``INSERT ... WHERE NOT EXISTS`` (the
former claim) would not do: INSERTs take no such lock, and two could both pass. The claim is fenced by being the
transaction's first write: it commits with the file's rows and ``load_history`` row or not at all, so a loader
whose transaction ended (killed, timed out, beaten) holds nothing that could still commit the file.
Column names are checked and quoted
(:func:`f1common.warehouse.quote_identifier`). A failed ROLLBACK never hides the error that caused it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from snowflake.connector.errors import DatabaseError

from f1common.datasets import DATASETS, DatasetSpec
from f1common.errors import MESSAGE_LIMIT, shorten
from f1common.layout import parse_data_key
from f1common.manifest import Manifest
from f1common.names import SERVICE_LOADER
from f1common.observability import child_logger
from f1common.settings import Settings
from f1common.warehouse import (
    FILE_NAME,
    LOAD_CLAIMS,
    LOAD_HISTORY,
    LOAD_MANIFESTS,
    LOAD_PENDING,
    LOAD_QUARANTINE,
    LOAD_TIME,
    ROW_NUMBER,
    RUN_ID,
    Dialect,
    StagingColumn,
    add_column_sql,
    all_ddl,
    check_identifier,
    dataset_columns,
    quote_identifier,
    rows_column,
    schema_name,
    table_name,
)
from loader.loading import AlreadyProcessed, FileRejected, LandedFile, runs_without_manifest_sql
from loader.snowflake_auth import database_name, warehouse_connection

STAGING = schema_name("snowflake")
DEFAULT_LOADER_STAGE = "GPI_LOADER_STAGE"
_WAREHOUSES: dict[int, Any] = {}
logger = child_logger(SERVICE_LOADER)


def staged_copy_statement(
    spec: DatasetSpec, *, database: str, schema: str, source: str, extra: Sequence[StagingColumn] = ()
) -> str:
    """COPY of one staged, enriched file: the pipes' transformation with the metadata read from the file."""
    cols = [*dataset_columns(spec, "snowflake"), *extra]
    target = ", ".join(
        quote_identifier(name, "snowflake")
        for name in [*(c.name for c in cols), LOAD_TIME, FILE_NAME, RUN_ID, ROW_NUMBER]
    )
    # the Parquet field of each column, by its exact (checked) name
    select = ", ".join(
        [f'$1:"{check_identifier(c.name)}"::{c.type}' for c in cols]
        + [
            "CURRENT_TIMESTAMP()",
            f'$1:"{FILE_NAME}"::VARCHAR',
            f'$1:"{RUN_ID}"::VARCHAR',
            f'$1:"{ROW_NUMBER}"::NUMBER(38,0)',
        ]
    )
    return (
        f"COPY INTO {database}.{schema}.{table_name(spec, 'snowflake')} ({target}) "
        f"FROM (SELECT {select} FROM {source}) FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE) PURGE = TRUE"
    )


def _is_data_error(exc: DatabaseError) -> bool:
    """Data exceptions (SQLSTATE 22xxx) and integrity violations (23xxx): the file is at fault, not the service."""
    return str(getattr(exc, "sqlstate", "") or "").startswith(("22", "23"))


class SnowflakeWarehouse:
    """Staging tables and bookkeeping in ``<database>.STAGING``; files arrive through an internal stage."""

    dialect: Dialect = "snowflake"

    def __init__(
        self,
        conn: Any,
        *,
        database: str,
        schema: str = STAGING,
        stage: str = DEFAULT_LOADER_STAGE,
        work_dir: Path | None = None,
    ) -> None:
        self.conn, self.database, self.schema = conn, database.upper(), schema.upper()
        self.stage = stage if "." in stage else f"{self.database}.{self.schema}.{stage.upper()}"
        self.work_dir = work_dir or Path(tempfile.mkdtemp(prefix="gpi-loader-"))
        self.fq = f"{self.database}.{self.schema}"

    def _execute(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall()) if cur.description else []

    def _rollback(self) -> None:
        """Ends the transaction; a failed ROLLBACK is logged, never raised over the error being handled."""
        try:
            self._execute("ROLLBACK")
        except Exception as exc:
            logger.warning("rollback failed", extra={"error": str(exc)[:200]})

    def _open_claim(self, key: str) -> None:
        """Before the file's transaction: makes sure the file has a claim row, 'OPEN' while no transaction has
        committed an outcome for it. One MERGE (Snowflake runs MERGEs on a table one at a time), so two deliveries
        never make two rows; none for a file loaded or quarantined before ``load_claims`` existed."""
        self._execute(
            f"MERGE INTO {self.fq}.{LOAD_CLAIMS.upper()} AS t USING (SELECT %s AS file_name "
            f"WHERE NOT EXISTS (SELECT 1 FROM {self.fq}.{LOAD_HISTORY} WHERE file_name = %s) "
            f"AND NOT EXISTS (SELECT 1 FROM {self.fq}.{LOAD_QUARANTINE} WHERE file_name = %s)) AS s "
            "ON t.file_name = s.file_name "
            "WHEN NOT MATCHED THEN INSERT (file_name, state, claimed_at) "
            "VALUES (s.file_name, 'OPEN', CURRENT_TIMESTAMP())",
            (key, key, key),
        )

    def _claim(self, key: str, outcome: str) -> None:
        """The first statement of the file's transaction: claims the file for `outcome` ('LOADED', 'QUARANTINED') by
        moving its claim row from 'OPEN'. Snowflake runs UPDATEs on a table one at a time, so of two concurrent
        claims one updates the row and the other, after the first commits, finds it no longer open and updates
        nothing: AlreadyProcessed (the caller rolls back). A rolled-back or crashed transaction leaves it open."""
        result = self._execute(
            f"UPDATE {self.fq}.{LOAD_CLAIMS.upper()} SET state = %s, claimed_at = CURRENT_TIMESTAMP() "
            "WHERE file_name = %s AND state = 'OPEN'",
            (outcome, key),
        )
        if not result or not int(result[0][0] or 0):  # the UPDATE's `number of rows updated`
            raise AlreadyProcessed(key, self.file_state(key) or "CLAIMED")

    def ensure_schema(self) -> None:
        for statement in all_ddl("snowflake", self.fq):
            self._execute(statement)
        self._execute(f"CREATE STAGE IF NOT EXISTS {self.stage}")

    def file_state(self, key: str) -> str | None:
        """The loader's bookkeeping, then the staging table itself: Snowpipe loads leave no load_history row."""
        rows = self._execute(
            f"SELECT 'LOADED' FROM {self.fq}.{LOAD_HISTORY} WHERE file_name = %s "
            f"UNION ALL SELECT 'QUARANTINED' FROM {self.fq}.{LOAD_QUARANTINE} WHERE file_name = %s",
            (key, key),
        )
        if rows:
            return str(rows[0][0])
        try:
            spec = DATASETS[parse_data_key(key).dataset]
        except ValueError:
            return None
        table = f"{self.fq}.{table_name(spec, 'snowflake')}"
        if self._execute(f"SELECT 1 FROM {table} WHERE {FILE_NAME} = %s LIMIT 1", (key,)):
            return "LOADED"
        return None

    def _stage_file(self, landed: LandedFile, key: str, run_id: str) -> str:
        """Writes the enriched file batch by batch (bounded memory, whatever the file's size) and PUTs it."""
        parse_data_key(key)  # the key becomes a path and a PUT target: only keys of the landing layout
        reader = landed.numbered()
        schema = reader.schema.append(pa.field(FILE_NAME, pa.string())).append(pa.field(RUN_ID, pa.string()))
        path = self.work_dir / key
        path.parent.mkdir(parents=True, exist_ok=True)
        with pq.ParquetWriter(path, schema, compression="zstd") as writer:
            for batch in reader:
                n = batch.num_rows
                writer.write_batch(
                    pa.RecordBatch.from_arrays(
                        [*batch.columns, pa.array([key] * n, pa.string()), pa.array([run_id] * n, pa.string())],
                        schema=schema,
                    )
                )
        folder = key.rsplit("/", 1)[0]
        self._execute(f"PUT 'file://{path}' @{self.stage}/{folder}/ AUTO_COMPRESS = FALSE")
        path.unlink()
        return f"@{self.stage}/{key}"

    def load_file(
        self, spec: DatasetSpec, landed: LandedFile, *, key: str, run_id: str, new_columns: list[StagingColumn]
    ) -> int:
        for column in new_columns:  # DDL commits implicitly in Snowflake: add the nullable columns first
            self._execute(add_column_sql(spec, column, "snowflake", self.fq))
        source = self._stage_file(landed, key, run_id)
        copy = staged_copy_statement(spec, database=self.database, schema=self.schema, source=source, extra=new_columns)
        self._open_claim(key)
        self._execute("BEGIN")
        try:
            self._claim(key, "LOADED")
            result = self._execute(copy)
            status, loaded = (str(result[0][1]), int(result[0][3] or 0)) if result else ("NO_FILE", 0)
            if status == "LOADED" and loaded != landed.num_rows:
                raise FileRejected(f"COPY loaded {loaded} of {landed.num_rows} rows")
            if status not in ("LOADED", "LOAD_SKIPPED"):
                raise FileRejected(f"COPY of {source} returned {status}: {str(result)[:200]}")
            self._execute(
                f"INSERT INTO {self.fq}.{LOAD_HISTORY} (file_name, run_id, dataset, {rows_column('snowflake')}, "
                "loaded_at, status) VALUES (%s, %s, %s, %s, CURRENT_TIMESTAMP(), 'LOADED')",
                (key, run_id, spec.name, landed.num_rows),
            )
            self._execute(f"DELETE FROM {self.fq}.{LOAD_PENDING} WHERE file_name = %s", (key,))
            self._execute("COMMIT")
        except (FileRejected, AlreadyProcessed):
            self._rollback()
            raise
        except DatabaseError as exc:
            self._rollback()
            if _is_data_error(exc):
                raise FileRejected(
                    f"Snowflake refused the rows of {spec.name}: {shorten(str(exc), MESSAGE_LIMIT)}"
                ) from None
            raise
        # LOAD_SKIPPED: Snowflake had loaded this staged file already (bookkeeping was lost); no new rows.
        return loaded if status == "LOADED" else 0

    def quarantine(self, key: str, *, run_id: str | None, dataset: str | None, error: str) -> None:
        self._open_claim(key)
        self._execute("BEGIN")
        try:
            self._claim(key, "QUARANTINED")
            self._execute(
                f"INSERT INTO {self.fq}.{LOAD_QUARANTINE} (file_name, run_id, dataset, error, quarantined_at) "
                "VALUES (%s, %s, %s, %s, CURRENT_TIMESTAMP())",
                (key, run_id, dataset, error),
            )
            self._execute(f"DELETE FROM {self.fq}.{LOAD_PENDING} WHERE file_name = %s", (key,))
            self._execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def mark_pending(self, key: str, *, run_id: str, dataset: str, reason: str) -> None:
        """One row per file still waiting (one MERGE, serialised with the load's DELETE by the table's lock), none
        for a file already loaded or quarantined: a late delivery cannot leave a pending row beside its load."""
        self._execute(
            f"MERGE INTO {self.fq}.{LOAD_PENDING} AS t USING (SELECT %s AS file_name, %s AS run_id, %s AS dataset, "
            f"%s AS reason WHERE NOT EXISTS (SELECT 1 FROM {self.fq}.{LOAD_HISTORY} WHERE file_name = %s) "
            f"AND NOT EXISTS (SELECT 1 FROM {self.fq}.{LOAD_QUARANTINE} WHERE file_name = %s)) AS s "
            "ON t.file_name = s.file_name WHEN MATCHED THEN UPDATE SET reason = s.reason "
            "WHEN NOT MATCHED THEN INSERT (file_name, run_id, dataset, reason, seen_at) "
            "VALUES (s.file_name, s.run_id, s.dataset, s.reason, CURRENT_TIMESTAMP())",
            (key, run_id, dataset, reason, key, key),
        )

    def record_manifest(self, manifest: Manifest, *, key: str) -> None:
        """Records the run's manifest once: one MERGE, whose check and insert are a single statement.

        Snowflake runs MERGE statements on one table one at a time (each holds the table's lock until it commits),
        so two deliveries of one manifest cannot both find the run missing, as two conditional INSERTs could
        (INSERTs do not lock). dbt also keeps one row per run (``stg_landing__runs``).
        """
        session = manifest.session
        columns = "run_id, source, season, round, session, created_at, files, manifest_key, loaded_at"
        self._execute(
            f"MERGE INTO {self.fq}.{LOAD_MANIFESTS} AS t USING (SELECT %s AS run_id, %s AS source, "
            "%s::NUMBER(38,0) AS season, %s::NUMBER(38,0) AS round, %s::VARCHAR AS session, "
            "%s::TIMESTAMP_TZ AS created_at, PARSE_JSON(%s) AS files, %s AS manifest_key) AS s "
            "ON t.run_id = s.run_id "
            f"WHEN NOT MATCHED THEN INSERT ({columns}) VALUES (s.run_id, s.source, s.season, s.round, s.session, "
            "s.created_at, s.files, s.manifest_key, CURRENT_TIMESTAMP())",
            (
                manifest.run_id,
                manifest.source.value,
                session.season if session else None,
                session.round if session else None,
                session.session.code if session else None,
                manifest.created_at.isoformat(),
                manifest.files_json(),
                key,
            ),
        )

    def runs_without_manifest(self) -> list[str]:
        return [str(r[0]) for r in self._execute(runs_without_manifest_sql(self.fq))]

    def staging_rows(self, spec: DatasetSpec, key: str | None = None) -> int:
        where, params = (f" WHERE {FILE_NAME} = %s", (key,)) if key else ("", None)
        rows = self._execute(f"SELECT COUNT(*) FROM {self.fq}.{table_name(spec, 'snowflake')}{where}", params)
        return int(rows[0][0])


def container_warehouse(settings: Settings, *, secrets: Any | None = None) -> SnowflakeWarehouse:
    """The warm container's warehouse: one connection (:func:`warehouse_connection`), its schema ensured once."""
    conn = warehouse_connection(settings, secrets=secrets)
    warehouse = _WAREHOUSES.get(id(conn))
    if warehouse is None or warehouse.conn is not conn:
        warehouse = SnowflakeWarehouse(conn, database=database_name(settings))
        warehouse.ensure_schema()
        _WAREHOUSES[id(conn)] = warehouse
    return warehouse  # type: ignore[no-any-return]
