"""The Snowflake COPY path (fakesnow) under hostile column names, lost claims and a failing ROLLBACK."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from snowflake.connector.errors import DatabaseError, OperationalError

from f1common.datasets import Dataset, dataset_spec
from f1common.warehouse import StagingColumn
from loader.conftest import (
    BUCKET,
    HOSTILE_NAMES,
    Run,
    check_the_claim_refuses_a_file_loaded_meanwhile,
    landed_file,
    with_column,
)
from loader.loading import AlreadyProcessed, LoadIncomplete, Outcome, load_keys
from loader.snowflake_warehouse import SnowflakeWarehouse, staged_copy_statement

FQ = "GPI_TEST.STAGING"


def test_hostile_column_names_are_quarantined_and_never_reach_the_copy(
    s3: Any, sf: SnowflakeWarehouse, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    status = ergast_tables[Dataset.ERGAST_STATUS]
    run = Run()
    hostile = [run.add(Dataset.ERGAST_CIRCUITS, with_column(ergast_tables[Dataset.ERGAST_CIRCUITS], HOSTILE_NAMES[0]))]
    good = run.add(Dataset.ERGAST_STATUS, status)
    run.land(s3)

    report = load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=sf)

    assert report.keys(Outcome.QUARANTINED) == hostile and report.keys(Outcome.LOADED) == [good]
    errors = dict(sf._execute(f"SELECT file_name, error FROM {FQ}.LOAD_QUARANTINE"))
    assert all("column name refused" in errors[k] for k in hostile)
    assert sf.staging_rows(dataset_spec(Dataset.ERGAST_STATUS)) == status.num_rows
    # and the statement builder itself refuses a name that did not come through the check
    with pytest.raises(ValueError, match="not a safe SQL identifier"):
        staged_copy_statement(
            dataset_spec(Dataset.ERGAST_STATUS),
            database="D",
            schema="S",
            source="@x",
            extra=[StagingColumn(HOSTILE_NAMES[0], "VARCHAR", True)],
        )


def test_the_claim_refuses_a_file_loaded_or_quarantined_meanwhile(
    s3: Any, sf: SnowflakeWarehouse, tmp_path: Path, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    key, rows = check_the_claim_refuses_a_file_loaded_meanwhile(s3, sf, ergast_tables[Dataset.ERGAST_STATUS], tmp_path)
    assert sf._execute(f'SELECT file_name, "ROWS" FROM {FQ}.LOAD_HISTORY') == [(key, rows)]
    assert sf._execute(f"SELECT COUNT(*) FROM {FQ}.LOAD_QUARANTINE") == [(0,)]


def _status_run(s3: Any, ergast_tables: dict[Dataset, pa.Table]) -> tuple[Run, str]:
    """A landed run of one file (the Ergast status table) and that file's key."""
    run = Run()
    key = run.add(Dataset.ERGAST_STATUS, ergast_tables[Dataset.ERGAST_STATUS])
    run.land(s3)
    return run, key


def _failing(
    sf: SnowflakeWarehouse,
    monkeypatch: pytest.MonkeyPatch,
    at: Callable[[str], bool],
    error: Exception,
    *,
    rollback_fails: bool = False,
) -> Callable[..., Any]:
    """Makes the statement `at` selects raise `error` (and ROLLBACK fail after rolling back); returns the real
    `_execute`."""
    real = sf._execute

    def execute(sql: str, params: Any = None) -> Any:
        if at(sql):
            raise error
        if rollback_fails and sql == "ROLLBACK":
            real(sql)
            raise DatabaseError("no transaction is active")
        return real(sql, params)

    monkeypatch.setattr(sf, "_execute", execute)
    return real


@pytest.mark.parametrize("at", ["COPY INTO", "COMMIT"])
def test_a_failing_rollback_does_not_hide_the_error(
    s3: Any,
    sf: SnowflakeWarehouse,
    ergast_tables: dict[Dataset, pa.Table],
    monkeypatch: pytest.MonkeyPatch,
    at: str,
) -> None:
    """The COPY, or the COMMIT, fails and so does the ROLLBACK: the failure raised is the statement's own; nothing
    is written (no staging rows, no load_history, no false quarantine), the claim stays open and the retry loads."""
    run, key = _status_run(s3, ergast_tables)
    real = _failing(
        sf,
        monkeypatch,
        lambda sql: sql.startswith(at),
        OperationalError("injected: the warehouse went away", sqlstate="08001"),
        rollback_fails=True,
    )
    with pytest.raises(LoadIncomplete) as failed:
        load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=sf)
    assert "injected: the warehouse went away" in failed.value.failed[key]
    assert "no transaction is active" not in failed.value.failed[key]
    monkeypatch.setattr(sf, "_execute", real)
    assert sf._execute(f"SELECT COUNT(*) FROM {FQ}.LOAD_QUARANTINE") == [(0,)]
    assert sf._execute(f"SELECT COUNT(*) FROM {FQ}.LOAD_HISTORY") == [(0,)]
    assert sf.staging_rows(dataset_spec(Dataset.ERGAST_STATUS)) == 0
    assert sf._execute(f"SELECT file_name, state FROM {FQ}.LOAD_CLAIMS") == [(key, "OPEN")]
    assert load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=sf).keys(Outcome.LOADED) == [key]


def _statements(sf: SnowflakeWarehouse, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every statement the warehouse object runs from now on."""
    seen: list[str] = []
    real = sf._execute

    def execute(sql: str, params: Any = None) -> Any:
        seen.append(sql)
        return real(sql, params)

    monkeypatch.setattr(sf, "_execute", execute)
    return seen


def test_a_load_and_a_quarantine_of_one_file_claim_one_key_with_one_merge(
    s3: Any,
    sf: SnowflakeWarehouse,
    tmp_path: Path,
    ergast_tables: dict[Dataset, pa.Table],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The file gets one claim row (a MERGE) and the load's transaction begins with one UPDATE of it from 'OPEN'
    (Snowflake runs UPDATEs on a table one at a time, so of two concurrent claims one updates). No conditional
    INSERT is left. A second delivery, through another warehouse object, claims nothing and writes nothing, as a
    load or a quarantine."""
    status = ergast_tables[Dataset.ERGAST_STATUS]
    run = Run()
    key = run.add(Dataset.ERGAST_STATUS, status)
    run.land(s3)
    seen = _statements(sf, monkeypatch)
    assert load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=sf).keys(Outcome.LOADED) == [key]
    begin = seen.index("BEGIN")
    assert seen[begin - 1].startswith(f"MERGE INTO {FQ}.LOAD_CLAIMS ")
    assert seen[begin + 1].startswith(f"UPDATE {FQ}.LOAD_CLAIMS ") and seen[begin + 2].startswith("COPY INTO")
    assert not [s for s in seen if s.startswith("INSERT") and "NOT EXISTS" in s]
    assert sf._execute(f"SELECT file_name, state FROM {FQ}.LOAD_CLAIMS") == [(key, "LOADED")]

    other = SnowflakeWarehouse(sf.conn, database=sf.database, work_dir=tmp_path / "other")
    spec = dataset_spec(Dataset.ERGAST_STATUS)
    writes = _statements(other, monkeypatch)
    with pytest.raises(AlreadyProcessed, match="already loaded"):
        other.quarantine(key, run_id=run.run_id, dataset=spec.name, error="a false quarantine")
    with pytest.raises(AlreadyProcessed, match="already loaded"):
        other.load_file(spec, landed_file(status, tmp_path), key=key, run_id=run.run_id, new_columns=[])
    assert not [s for s in writes if s.startswith(("INSERT", "DELETE", "COPY"))], "a lost claim writes nothing"
    assert writes.count("ROLLBACK") == 2
    assert sf._execute(f"SELECT file_name, state FROM {FQ}.LOAD_CLAIMS") == [(key, "LOADED")]
    assert sf._execute(f"SELECT COUNT(*) FROM {FQ}.LOAD_QUARANTINE") == [(0,)]
    assert sf.staging_rows(spec) == status.num_rows


def test_a_quarantined_file_keeps_its_claim_and_a_file_from_before_the_claims_table_is_not_claimed_again(
    s3: Any, sf: SnowflakeWarehouse, tmp_path: Path, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    status = ergast_tables[Dataset.ERGAST_STATUS]
    run, key = _status_run(s3, ergast_tables)
    spec = dataset_spec(Dataset.ERGAST_STATUS)
    sf.quarantine(key, run_id=run.run_id, dataset=spec.name, error="schema mismatch")
    assert sf._execute(f"SELECT file_name, state FROM {FQ}.LOAD_CLAIMS") == [(key, "QUARANTINED")]
    with pytest.raises(AlreadyProcessed, match="quarantined"):
        sf.load_file(spec, landed_file(status, tmp_path), key=key, run_id=run.run_id, new_columns=[])
    assert sf.staging_rows(spec) == 0
    # a warehouse whose files were processed before LOAD_CLAIMS existed: their bookkeeping rows still hold
    sf._execute(f"DELETE FROM {FQ}.LOAD_CLAIMS")
    with pytest.raises(AlreadyProcessed, match="quarantined"):
        sf.load_file(spec, landed_file(status, tmp_path), key=key, run_id=run.run_id, new_columns=[])
    assert sf._execute(f"SELECT COUNT(*) FROM {FQ}.LOAD_CLAIMS") == [(0,)] and sf.staging_rows(spec) == 0


def test_a_failed_load_leaves_its_claim_open_for_the_retry(
    s3: Any, sf: SnowflakeWarehouse, ergast_tables: dict[Dataset, pa.Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    run, key = _status_run(s3, ergast_tables)
    real = _failing(
        sf,
        monkeypatch,  # after the claim and the COPY
        lambda sql: sql.startswith("INSERT INTO") and "LOAD_HISTORY" in sql.upper(),
        OperationalError("injected: the session died before its commit", sqlstate="08001"),
    )
    with pytest.raises(LoadIncomplete):
        load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=sf)
    monkeypatch.setattr(sf, "_execute", real)
    assert sf._execute(f"SELECT file_name, state FROM {FQ}.LOAD_CLAIMS") == [(key, "OPEN")]
    assert sf.staging_rows(dataset_spec(Dataset.ERGAST_STATUS)) == 0, "the COPY was rolled back with the claim"
    assert load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=sf).keys(Outcome.LOADED) == [key]
    assert sf._execute(f"SELECT file_name, state FROM {FQ}.LOAD_CLAIMS") == [(key, "LOADED")]
