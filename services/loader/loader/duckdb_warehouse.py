"""The embedded warehouse: a DuckDB file standing in for Snowflake (schema `staging`)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from f1common.clock import utc_now
from f1common.datasets import DatasetSpec
from f1common.manifest import Manifest
from f1common.warehouse import (
    FILE_NAME,
    LOAD_HISTORY,
    LOAD_MANIFESTS,
    LOAD_PENDING,
    LOAD_QUARANTINE,
    LOAD_TIME,
    ROW_NUMBER,
    RUN_ID,
    STAGING_SCHEMA,
    Dialect,
    StagingColumn,
    add_column_sql,
    all_ddl,
    table_name,
)
from loader.loading import FileRejected, runs_without_manifest_sql

_S = STAGING_SCHEMA
# Errors caused by the file's data (quarantine it); anything else (I/O, locks) propagates and is retried.
_DATA_ERRORS = (
    duckdb.ConversionException,
    duckdb.ConstraintException,
    duckdb.InvalidInputException,
    duckdb.BinderException,
    duckdb.TypeMismatchException,
    duckdb.OutOfRangeException,
)


class DuckDBWarehouse:
    """Staging tables and load bookkeeping in one DuckDB database; one transaction per file."""

    dialect: Dialect = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.con.execute("SET TimeZone = 'UTC'")

    @classmethod
    def open(cls, path: Path | str) -> DuckDBWarehouse:
        """Opens (creating it and its directory if needed) the warehouse file and its staging schema."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        warehouse = cls(duckdb.connect(str(path)))
        warehouse.ensure_schema()
        return warehouse

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> DuckDBWarehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ensure_schema(self) -> None:
        for statement in all_ddl("duckdb"):
            self.con.execute(statement)

    def file_state(self, key: str) -> str | None:
        row = self.con.execute(
            f"SELECT 'LOADED' FROM {_S}.{LOAD_HISTORY} WHERE file_name = $1 "
            f"UNION ALL SELECT 'QUARANTINED' FROM {_S}.{LOAD_QUARANTINE} WHERE file_name = $1 LIMIT 1",
            [key],
        ).fetchone()
        return None if row is None else str(row[0])

    def load_file(
        self, spec: DatasetSpec, table: pa.Table, *, key: str, run_id: str, new_columns: list[StagingColumn]
    ) -> int:
        target = f"{_S}.{table_name(spec, 'duckdb')}"
        incoming = table.append_column(ROW_NUMBER, pa.array(range(1, table.num_rows + 1), pa.int64()))
        now = utc_now()
        self.con.register("_incoming", incoming)
        self.con.begin()
        try:
            for column in new_columns:
                self.con.execute(add_column_sql(spec, column, "duckdb"))
            self.con.execute(
                f"INSERT INTO {target} BY NAME "
                f"SELECT *, $1::TIMESTAMPTZ AS {LOAD_TIME}, $2 AS {FILE_NAME}, $3 AS {RUN_ID} FROM _incoming",
                [now, key, run_id],
            )
            self.con.execute(
                f"INSERT INTO {_S}.{LOAD_HISTORY} (file_name, run_id, dataset, rows, loaded_at, status) "
                "VALUES ($1, $2, $3, $4, $5, 'LOADED')",
                [key, run_id, spec.name, table.num_rows, now],
            )
            self.con.execute(f"DELETE FROM {_S}.{LOAD_PENDING} WHERE file_name = $1", [key])
            self.con.commit()
        except duckdb.Error as exc:
            self.con.rollback()
            if isinstance(exc, _DATA_ERRORS):
                raise FileRejected(f"DuckDB refused the rows of {spec.name}: {exc}") from None
            raise
        finally:
            self.con.unregister("_incoming")
        return table.num_rows

    def quarantine(self, key: str, *, run_id: str | None, dataset: str | None, error: str) -> None:
        self.con.begin()
        self.con.execute(
            f"INSERT INTO {_S}.{LOAD_QUARANTINE} (file_name, run_id, dataset, error, quarantined_at) "
            "VALUES ($1, $2, $3, $4, $5)",
            [key, run_id, dataset, error, utc_now()],
        )
        self.con.execute(f"DELETE FROM {_S}.{LOAD_PENDING} WHERE file_name = $1", [key])
        self.con.commit()

    def mark_pending(self, key: str, *, run_id: str, dataset: str, reason: str) -> None:
        self.con.execute(
            f"INSERT INTO {_S}.{LOAD_PENDING} (file_name, run_id, dataset, reason, seen_at) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (file_name) DO UPDATE SET reason = excluded.reason",
            [key, run_id, dataset, reason, utc_now()],
        )

    def record_manifest(self, manifest: Manifest, *, key: str) -> None:
        session = manifest.session
        self.con.execute(
            f"INSERT INTO {_S}.{LOAD_MANIFESTS} "
            "(run_id, source, season, round, session, created_at, files, manifest_key, loaded_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (run_id) DO NOTHING",
            [manifest.run_id, manifest.source.value, session.season if session else None,
             session.round if session else None, session.session.code if session else None,
             manifest.created_at, manifest.files_json(), key, utc_now()],
        )

    def runs_without_manifest(self) -> list[str]:
        return [str(r[0]) for r in self.con.execute(runs_without_manifest_sql(_S)).fetchall()]

    def staging_rows(self, spec: DatasetSpec, key: str | None = None) -> int:
        target = f"{_S}.{table_name(spec, 'duckdb')}"
        where, params = (f" WHERE {FILE_NAME} = $1", [key]) if key else ("", [])
        row = self.con.execute(f"SELECT count(*) FROM {target}{where}", params).fetchone()
        return int(row[0]) if row else 0
