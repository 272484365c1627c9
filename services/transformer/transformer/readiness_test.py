"""A landed run is ready for a build only when its manifest and every file it lists (or their quarantine) are
in staging."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import duckdb
import pytest

from f1common.datasets import Dataset, dataset_spec
from f1common.layout import data_key
from f1common.sessions import SessionId
from f1common.warehouse import all_ddl, staging_columns
from transformer.readiness import pending_runs

RUN, OTHER = "20250316T061500Z-0123abcd", "20250316T071500Z-89abcdef"
SESSION = SessionId.parse("2025-01-R")
_VALUES = {"VARCHAR": "'x'", "BOOLEAN": "false", "DATE": "DATE '2025-03-16'"}


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(":memory:")
    for sql in all_ddl("duckdb"):
        connection.execute(sql)
    yield connection
    connection.close()


def _key(dataset: Dataset, run_id: str = RUN) -> str:
    return data_key(dataset, run_id, session=SESSION)


def _manifest(con: duckdb.DuckDBPyConnection, run_id: str, files: dict[Dataset, int]) -> None:
    listed = [{"dataset": d.value, "key": _key(d, run_id), "rows": n} for d, n in files.items()]
    con.execute(
        "insert into staging.load_manifests values (?, 'fastf1', 2025, 1, 'R', ?, ?, ?, ?)",
        [run_id, dt.datetime(2025, 3, 16), json.dumps(listed), f"manifests/{run_id}.json", dt.datetime(2025, 3, 16)],
    )


def _load(con: duckdb.DuckDBPyConnection, dataset: Dataset, rows: int, run_id: str = RUN) -> None:
    spec = dataset_spec(dataset)
    columns = staging_columns(spec, "duckdb")
    for n in range(rows):
        values = {
            "_load_time": "now()",
            "_file_name": f"'{_key(dataset, run_id)}'",
            "_run_id": f"'{run_id}'",
            "_row_number": str(n),
        }
        filled = [c for c in columns if c.name in values or not c.nullable]
        con.execute(
            f"insert into staging.{spec.staging_table.lower()} ({', '.join(c.name for c in filled)}) "
            f"values ({', '.join(values.get(c.name) or _literal(c.type) for c in filled)})"
        )


def _literal(column_type: str) -> str:
    """A value of the type for a NOT NULL column the test does not care about."""
    base = column_type.split("(")[0].upper()
    return "now()" if "TIMESTAMP" in base else _VALUES.get(base, "0")


def test_a_run_is_pending_until_its_manifest_and_files_are_loaded(con: duckdb.DuckDBPyConnection) -> None:
    assert pending_runs(con, [RUN]) == {RUN}, "no manifest in staging yet"
    _manifest(con, RUN, {Dataset.WEATHER: 3, Dataset.RACE_CONTROL: 2})
    assert pending_runs(con, [RUN]) == {RUN}, "files not loaded yet (Snowpipe loads in any order)"
    _load(con, Dataset.WEATHER, 3)
    _load(con, Dataset.RACE_CONTROL, 1)
    assert pending_runs(con, [RUN]) == {RUN}, "a file partly loaded"
    _load(con, Dataset.RACE_CONTROL, 2)  # rows 0 and 1: row 0 twice (a file loaded twice counts once)
    assert pending_runs(con, [RUN]) == set()


def test_a_quarantined_file_settles_its_run(con: duckdb.DuckDBPyConnection) -> None:
    _manifest(con, RUN, {Dataset.WEATHER: 3, Dataset.RACE_CONTROL: 2})
    _load(con, Dataset.WEATHER, 3)
    con.execute(
        "insert into staging.load_quarantine values (?, ?, 'race_control', 'bad parquet', now())",
        [_key(Dataset.RACE_CONTROL), RUN],
    )
    assert pending_runs(con, [RUN, OTHER]) == {OTHER}


def test_nothing_asked_nothing_read_and_bad_ids_refused(con: duckdb.DuckDBPyConnection) -> None:
    assert pending_runs(con, []) == set()
    with pytest.raises(ValueError, match="not a run id"):
        pending_runs(con, ["x' or '1'='1"])
