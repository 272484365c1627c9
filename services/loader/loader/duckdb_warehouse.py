"""The embedded warehouse: a DuckDB file standing in for Snowflake (schema `staging`).

Check-and-claim per file: the transaction that loads a file and the one that quarantines it both begin by
inserting the file into ``load_claims`` (primary key ``file_name``), one key whichever outcome each chose, so
DuckDB lets exactly one of two concurrent claims commit. The loser skips the file
(:class:`loader.loading.AlreadyProcessed`), wherever its conflict surfaces:

- at its COMMIT, when the winner committed first (the winner's row is visible then);
- at the INSERT of its claim (or of its ``load_history``/``load_quarantine`` row), when the winner committed or
  is committing: DuckDB's indexes hold the winner's keys before its rows are visible, so the loser may find no
  trace of the winner yet. A key violation of these inserts is therefore a lost claim, never a data error (it
  was once taken for one, and the file was quarantined while the winner loaded it).

A failed statement or COMMIT ends the transaction; its error is what is raised, never the ROLLBACK's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from f1common.clock import utc_now
from f1common.datasets import DatasetSpec
from f1common.errors import MESSAGE_LIMIT, shorten
from f1common.manifest import Manifest
from f1common.names import SERVICE_LOADER
from f1common.observability import child_logger
from f1common.warehouse import (
    FILE_NAME,
    LOAD_CLAIMS,
    LOAD_HISTORY,
    LOAD_MANIFESTS,
    LOAD_PENDING,
    LOAD_QUARANTINE,
    LOAD_TIME,
    RUN_ID,
    STAGING_SCHEMA,
    Dialect,
    StagingColumn,
    add_column_sql,
    all_ddl,
    table_name,
)
from loader.loading import AlreadyProcessed, FileRejected, LandedFile, runs_without_manifest_sql

logger = child_logger(SERVICE_LOADER)

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


# The loader's DuckDB buffer pool: a file's rows, held until its transaction commits, spill to disk beyond it, so
# the loader's memory does not grow with the file (bench/loader_memory_bench.py). A database-wide setting; the
# loader's connections are its only ones while it runs.
MEMORY_LIMIT = "128MB"


class _ClaimLost(Exception):
    """The claim's INSERT met the file's key: a concurrent transaction claimed it (raised inside the transaction)."""


class DuckDBWarehouse:
    """Staging tables and load bookkeeping in one DuckDB database; one transaction per file."""

    dialect: Dialect = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")

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

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN ... COMMIT; on any error a ROLLBACK, and the error itself is raised."""
        self.con.begin()
        try:
            yield
            self.con.commit()
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        """Ends the transaction if it is still active; a failed ROLLBACK is logged, never raised over the error."""
        try:
            self.con.rollback()
        except duckdb.Error as exc:
            if "no transaction is active" not in str(exc):  # a failed statement or COMMIT ended it already
                logger.warning("rollback failed", extra={"error": str(exc)[:200]})

    def _settled(self, key: str) -> AlreadyProcessed | None:
        """After a failed transaction: whether a concurrent one processed the file (then the failure is its claim)."""
        state = self.file_state(key)
        return None if state is None else AlreadyProcessed(key, state)

    def file_state(self, key: str) -> str | None:
        rows = self.con.execute(
            f"SELECT 'LOADED' FROM {_S}.{LOAD_HISTORY} WHERE file_name = $1 "
            f"UNION ALL SELECT 'QUARANTINED' FROM {_S}.{LOAD_QUARANTINE} WHERE file_name = $1 LIMIT 1",
            [key],
        ).fetchall()  # every row: a result left unfinished blocks the connection's next statement
        return str(rows[0][0]) if rows else None

    def load_file(
        self, spec: DatasetSpec, landed: LandedFile, *, key: str, run_id: str, new_columns: list[StagingColumn]
    ) -> int:
        """One transaction; the rows stream from the file's record batches (DuckDB scans the Arrow stream)."""
        target = f"{_S}.{table_name(spec, 'duckdb')}"
        now = utc_now()
        self.con.register("_incoming", landed.numbered())
        try:
            with self._settling(
                key,
                "LOADED",
                now,
                f"INSERT INTO {_S}.{LOAD_HISTORY} (file_name, run_id, dataset, rows, loaded_at, status) "
                "VALUES ($1, $2, $3, $4, $5, 'LOADED')",
                [key, run_id, spec.name, landed.num_rows, now],
            ):
                for column in new_columns:
                    self.con.execute(add_column_sql(spec, column, "duckdb"))
                self.con.execute(
                    f"INSERT INTO {target} BY NAME "
                    f"SELECT *, $1::TIMESTAMPTZ AS {LOAD_TIME}, $2 AS {FILE_NAME}, $3 AS {RUN_ID} FROM _incoming",
                    [now, key, run_id],
                )
        except _DATA_ERRORS as exc:  # not processed by anyone else (_settling): the rows themselves
            raise FileRejected(f"DuckDB refused the rows of {spec.name}: {shorten(str(exc), MESSAGE_LIMIT)}") from None
        finally:
            self.con.unregister("_incoming")
        return landed.num_rows

    @contextmanager
    def _settling(
        self, key: str, outcome: str, at: dt.datetime, record_sql: str, params: list[object]
    ) -> Iterator[None]:
        """One transaction that settles the file: its claim for `outcome`, its record (`record_sql`: the
        load_history or load_quarantine row), the caller's writes (the body), then its load_pending row removed.

        Raises AlreadyProcessed when another delivery settled the file first (before or during this one);
        any other error propagates after the rollback.
        """
        try:
            with self._transaction():
                self._claim(key, outcome, at)
                self._keyed_insert(record_sql, params)
                yield
                self.con.execute(f"DELETE FROM {_S}.{LOAD_PENDING} WHERE file_name = $1", [key])
        except _ClaimLost:
            raise self._lost(key) from None
        except duckdb.Error:
            if (settled := self._settled(key)) is not None:
                raise settled from None
            raise

    def _claim(self, key: str, outcome: str, at: dt.datetime) -> None:
        """Inside the transaction, before any other write: claims the file for `outcome`.

        Raises AlreadyProcessed when the file was loaded or quarantined (committed before this transaction) and
        _ClaimLost when the claim's INSERT meets a concurrent claim.
        """
        state = self.file_state(key)
        if state is not None:
            raise AlreadyProcessed(key, state)
        self._keyed_insert(
            f"INSERT INTO {_S}.{LOAD_CLAIMS} (file_name, state, claimed_at) VALUES ($1, $2, $3)", [key, outcome, at]
        )

    def _keyed_insert(self, sql: str, params: list[object]) -> None:
        """An INSERT keyed by the file (its claim, its load_history or load_quarantine row): a key violation means a
        concurrent claim (_ClaimLost). A winner's COMMIT adds its keys table by table, so the conflict may surface
        at any of them."""
        try:
            self.con.execute(sql, params)
        except duckdb.ConstraintException:
            raise _ClaimLost from None

    def _lost(self, key: str) -> AlreadyProcessed:
        """After the rollback of a transaction whose claim was lost: the winner's outcome, if it is visible yet."""
        return AlreadyProcessed(key, self.file_state(key) or "CLAIMED")

    def quarantine(self, key: str, *, run_id: str | None, dataset: str | None, error: str) -> None:
        now = utc_now()
        with self._settling(
            key,
            "QUARANTINED",
            now,
            f"INSERT INTO {_S}.{LOAD_QUARANTINE} (file_name, run_id, dataset, error, quarantined_at) "
            "VALUES ($1, $2, $3, $4, $5)",
            [key, run_id, dataset, error, now],
        ):
            pass  # nothing to write besides the quarantine record

    def mark_pending(self, key: str, *, run_id: str, dataset: str, reason: str) -> None:
        """One row per file still waiting, none for a file already loaded or quarantined (a late delivery)."""
        self.con.execute(
            f"INSERT INTO {_S}.{LOAD_PENDING} (file_name, run_id, dataset, reason, seen_at) "
            f"SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM {_S}.{LOAD_HISTORY} WHERE file_name = $1) "
            f"AND NOT EXISTS (SELECT 1 FROM {_S}.{LOAD_QUARANTINE} WHERE file_name = $1) "
            "ON CONFLICT (file_name) DO UPDATE SET reason = excluded.reason",
            [key, run_id, dataset, reason, utc_now()],
        )

    def record_manifest(self, manifest: Manifest, *, key: str) -> None:
        """Records the run's manifest once; a concurrent delivery of the same manifest that commits first wins."""
        session = manifest.session
        try:
            self.con.execute(
                f"INSERT INTO {_S}.{LOAD_MANIFESTS} "
                "(run_id, source, season, round, session, created_at, files, manifest_key, loaded_at) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (run_id) DO NOTHING",
                [
                    manifest.run_id,
                    manifest.source.value,
                    session.season if session else None,
                    session.round if session else None,
                    session.session.code if session else None,
                    manifest.created_at,
                    manifest.files_json(),
                    key,
                    utc_now(),
                ],
            )
        except (duckdb.ConstraintException, duckdb.TransactionException) as exc:
            # ON CONFLICT sees committed rows only: two deliveries inserting at once collide on the key, at the
            # INSERT while the other's COMMIT is under way (its row not visible yet) or at commit once it is done.
            # Either way the other delivery holds the run's row; only another failure is raised.
            if "duplicate key" not in str(exc).lower():  # the only key of this INSERT is the run id
                raise

    def runs_without_manifest(self) -> list[str]:
        return [str(r[0]) for r in self.con.execute(runs_without_manifest_sql(_S)).fetchall()]

    def staging_rows(self, spec: DatasetSpec, key: str | None = None) -> int:
        target = f"{_S}.{table_name(spec, 'duckdb')}"
        where, params = (f" WHERE {FILE_NAME} = $1", [key]) if key else ("", [])
        row = self.con.execute(f"SELECT count(*) FROM {target}{where}", params).fetchone()
        return int(row[0]) if row else 0
