"""The Snowflake COPY path (fakesnow) under hostile column names, lost claims and a failing ROLLBACK."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from snowflake.connector.errors import DatabaseError, OperationalError

from f1common.datasets import Dataset, dataset_spec
from f1common.warehouse import StagingColumn
from loader.conftest import BUCKET, HOSTILE_NAMES, Run, landed_file, with_column
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
        staged_copy_statement(dataset_spec(Dataset.ERGAST_STATUS), database="D", schema="S", source="@x",
                              extra=[StagingColumn(HOSTILE_NAMES[0], "VARCHAR", True)])


def test_the_claim_refuses_a_file_loaded_or_quarantined_meanwhile(
    s3: Any, sf: SnowflakeWarehouse, tmp_path: Path, ergast_tables: dict[Dataset, pa.Table]
) -> None:
    status = ergast_tables[Dataset.ERGAST_STATUS]
    run = Run()
    key = run.add(Dataset.ERGAST_STATUS, status)
    run.land(s3)
    load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=sf)

    spec = dataset_spec(Dataset.ERGAST_STATUS)
    with pytest.raises(AlreadyProcessed, match="already loaded"):
        sf.load_file(spec, landed_file(status, tmp_path), key=key, run_id=run.run_id, new_columns=[])
    with pytest.raises(AlreadyProcessed, match="already loaded"):
        sf.quarantine(key, run_id=run.run_id, dataset=spec.name, error="a false quarantine")
    assert sf._execute(f"SELECT file_name, \"ROWS\" FROM {FQ}.LOAD_HISTORY") == [(key, status.num_rows)]
    assert sf._execute(f"SELECT COUNT(*) FROM {FQ}.LOAD_QUARANTINE") == [(0,)]
    assert sf.staging_rows(spec) == status.num_rows


def test_a_failing_rollback_does_not_hide_the_error(
    s3: Any, sf: SnowflakeWarehouse, ergast_tables: dict[Dataset, pa.Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = Run()
    key = run.add(Dataset.ERGAST_STATUS, ergast_tables[Dataset.ERGAST_STATUS])
    run.land(s3)
    real = sf._execute

    def execute(sql: str, params: Any = None) -> Any:
        if sql.startswith("COPY INTO"):
            raise OperationalError("injected: the warehouse went away", sqlstate="08001")
        if sql == "ROLLBACK":
            real(sql)
            raise DatabaseError("no transaction is active")
        return real(sql, params)

    monkeypatch.setattr(sf, "_execute", execute)
    with pytest.raises(LoadIncomplete) as failed:
        load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=sf)
    assert "injected: the warehouse went away" in failed.value.failed[key]
    monkeypatch.setattr(sf, "_execute", real)
    assert sf._execute(f"SELECT COUNT(*) FROM {FQ}.LOAD_QUARANTINE") == [(0,)]
    assert load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=sf).keys(Outcome.LOADED) == [key]
