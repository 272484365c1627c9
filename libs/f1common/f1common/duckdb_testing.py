"""DuckDB test doubles shared by the loader's tests and the reliability tests (never imported by service code)."""

from __future__ import annotations

from typing import Any

import duckdb


class CommitFails:
    """A DuckDB connection whose COMMIT fails after the transaction ended, as a failed DuckDB COMMIT does."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con

    def commit(self) -> None:
        self._con.rollback()
        raise duckdb.IOException("injected: COMMIT failed (disk full)")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)
