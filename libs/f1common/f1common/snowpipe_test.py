"""The Snowpipe objects as data, and the rendered setup script."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys

import duckdb
import pytest

from f1common.datasets import DATASETS, Dataset, Source, dataset_spec
from f1common.layout import data_key, new_run_id
from f1common.manifest import Manifest, ManifestFile
from f1common.sessions import SessionId, SessionType
from f1common.snowpipe import (
    DEFAULT_FILE_FORMAT,
    RUN_ID_SQL,
    external_stage,
    file_format,
    manifest_file_format,
    manifest_pipe_definition,
    pipe_definitions,
    render_setup_sql,
    staging_tables,
)
from f1common.warehouse import LOAD_MANIFESTS, METADATA_COLUMNS, bookkeeping_columns


def test_staging_tables_as_data() -> None:
    tables = {t.dataset: t for t in staging_tables("snowflake")}
    assert set(tables) == {d.value for d in DATASETS}
    laps = tables["laps"]
    assert (laps.name, laps.schema) == ("LAPS_STAGING", "STAGING")
    assert [c.name for c in laps.columns] == [*dataset_spec(Dataset.LAPS).column_names, *METADATA_COLUMNS]
    assert laps.columns[0] == ("season", "NUMBER(38,0)", False)
    assert ("lap_start_time_utc", "TIMESTAMP_TZ", True) in laps.columns
    assert ("_load_time", "TIMESTAMP_TZ", False) in laps.columns
    assert staging_tables("duckdb")[1].name == "laps_staging"
    assert laps.create_sql("GPI_PROD").startswith("CREATE TABLE IF NOT EXISTS GPI_PROD.STAGING.LAPS_STAGING (")
    # clustered on Snowflake by the columns a session's (a season's) files hold one value of
    assert laps.cluster_by == ("season", "round", "session")
    assert laps.create_sql().endswith(") CLUSTER BY (season, round, session)")
    assert tables["schedule"].cluster_by == ("season",) and tables["ergast_drivers"].cluster_by == ()
    assert all(t.cluster_by == () for t in staging_tables("duckdb"))


def test_pipe_per_dataset_with_auto_ingest_and_metadata() -> None:
    pipes = pipe_definitions("GPI_PROD", "STAGING", "GPI_LANDING_STAGE", "GPI_PARQUET")
    assert len(pipes) == len(DATASETS) and all(p.auto_ingest for p in pipes)
    laps = next(p for p in pipes if p.dataset == "laps")
    assert (laps.name, laps.table, laps.prefix) == ("LAPS_PIPE", "LAPS_STAGING", "dataset=laps/")
    sql = laps.copy_statement
    assert sql.startswith("COPY INTO GPI_PROD.STAGING.LAPS_STAGING (season, round, session, driver_number")
    assert "_load_time, _file_name, _run_id, _row_number)" in sql
    assert "$1:lap_start_time_utc::TIMESTAMP_TZ" in sql and "$1:lap_time_ms::NUMBER(38,0)" in sql
    assert "METADATA$FILENAME" in sql and "METADATA$FILE_ROW_NUMBER" in sql and "CURRENT_TIMESTAMP" not in sql
    assert "FROM @GPI_PROD.STAGING.GPI_LANDING_STAGE/dataset=laps/" in sql
    assert sql.endswith("FILE_FORMAT = (FORMAT_NAME = 'GPI_PROD.STAGING.GPI_PARQUET')")
    assert "MATCH_BY_COLUMN_NAME" not in sql  # Snowflake rejects it together with a transformation


@pytest.mark.parametrize("dataset", [Dataset.LAPS, Dataset.SCHEDULE, Dataset.ERGAST_PIT_STOPS, Dataset.RACE_CONTROL])
def test_run_id_expression_recovers_the_run_id_from_real_keys(dataset: Dataset) -> None:
    run_id = new_run_id()
    key = data_key(
        dataset, run_id, session=SessionId(season=2024, round=5, session=SessionType.parse("SQ")), season=2024
    )
    expression = RUN_ID_SQL.replace("METADATA$FILENAME", "$1")  # SPLIT_PART and || behave alike in DuckDB
    assert duckdb.execute(f"SELECT {expression}", [key]).fetchone() == (run_id,)


def test_stage_and_file_format() -> None:
    stage = external_stage("gpi-prod-landing", "GPI_S3")
    assert (stage.url, stage.storage_integration) == ("s3://gpi-prod-landing/", "GPI_S3")
    assert "URL = 's3://gpi-prod-landing/'" in stage.create_sql("GPI_PROD", "STAGING")
    with pytest.raises(ValueError, match="expected a bucket name"):
        external_stage("s3://gpi-prod-landing/")
    fmt = file_format()
    assert (fmt.format_type, fmt.use_logical_type) == ("PARQUET", True)


def test_render_setup_sql_is_complete() -> None:
    script = render_setup_sql(
        database="GPI_PROD",
        bucket="gpi-prod-landing",
        storage_aws_role_arn="arn:aws:iam::123456789012:role/snowflake-landing",
    )
    assert script.count("CREATE PIPE IF NOT EXISTS") == len(DATASETS) + 1  # + the manifests pipe
    # + the bookkeeping tables: load_history, load_quarantine, load_pending, load_manifests, load_claims
    assert script.count("CREATE TABLE IF NOT EXISTS GPI_PROD.STAGING.") == len(DATASETS) + 5
    assert "CREATE TABLE IF NOT EXISTS GPI_PROD.STAGING.LOAD_CLAIMS" in script
    for needle in (
        "CREATE STORAGE INTEGRATION IF NOT EXISTS GPI_LANDING_S3",
        "CREATE FILE FORMAT IF NOT EXISTS",
        "CREATE STAGE IF NOT EXISTS GPI_PROD.STAGING.GPI_LANDING_STAGE",
        "AUTO_INGEST = TRUE",
    ):
        assert needle in script


def test_manifests_pipe_loads_every_manifest_into_load_manifests() -> None:
    pipe = manifest_pipe_definition("GPI_PROD", "STAGING", "GPI_LANDING_STAGE", "GPI_MANIFEST_JSON")
    assert (pipe.name, pipe.table, pipe.prefix, pipe.auto_ingest) == (
        "MANIFESTS_PIPE",
        "LOAD_MANIFESTS",
        "manifests/",
        True,
    )
    sql = pipe.copy_statement
    columns = [c.name for c in bookkeeping_columns("snowflake")[LOAD_MANIFESTS]]
    assert sql.startswith(f"COPY INTO GPI_PROD.STAGING.LOAD_MANIFESTS ({', '.join(columns)})")
    assert "FROM @GPI_PROD.STAGING.GPI_LANDING_STAGE/manifests/" in sql
    assert sql.endswith("FILE_FORMAT = (FORMAT_NAME = 'GPI_PROD.STAGING.GPI_MANIFEST_JSON')")
    assert (
        manifest_file_format()
        .create_sql("GPI_PROD", "STAGING")
        .endswith("TYPE = JSON STRIP_OUTER_ARRAY = FALSE COMPRESSION = AUTO")
    )


def test_file_formats_render_their_whole_statement() -> None:
    assert file_format().create_sql("GPI_PROD", "STAGING") == (
        f"CREATE FILE FORMAT IF NOT EXISTS GPI_PROD.STAGING.{DEFAULT_FILE_FORMAT}\n"
        "    TYPE = PARQUET USE_LOGICAL_TYPE = TRUE BINARY_AS_TEXT = FALSE COMPRESSION = AUTO"
    )
    assert manifest_file_format("M").create_sql("D", "S") == (
        "CREATE FILE FORMAT IF NOT EXISTS D.S.M\n    TYPE = JSON STRIP_OUTER_ARRAY = FALSE COMPRESSION = AUTO"
    )


def test_manifests_pipe_paths_exist_in_a_real_manifest() -> None:
    """Every `$1:a:b` path of the pipe's SELECT names a field of a FastF1 session run's manifest JSON."""
    run_id = new_run_id()
    session = SessionId(season=2024, round=5, session=SessionType.RACE)
    key = data_key(Dataset.LAPS, run_id, session=session)
    manifest = Manifest(
        run_id=run_id,
        source=Source.FASTF1,
        session=session,
        producer="ingestion",
        created_at=dt.datetime(2024, 5, 5, tzinfo=dt.timezone.utc),
        files=[ManifestFile(dataset=Dataset.LAPS, key=key, rows=3, bytes=10, sha256="0" * 64)],
    )
    document = json.loads(manifest.to_json())
    sql = manifest_pipe_definition("D", "S", "ST", "F").copy_statement
    paths = re.findall(r"\$1((?::[a-z_]+)+)", sql)
    assert len(paths) == 7
    for path in paths:
        value: object = document
        for part in path.strip(":").split(":"):
            assert isinstance(value, dict) and part in value, f"{path} is not in the manifest"
            value = value[part]
        assert value is not None


def test_snowpipe_module_imports_no_database_driver() -> None:
    code = (
        "import sys, f1common.snowpipe; bad = [m for m in sys.modules if m.split('.')[0] in "
        "('duckdb', 'snowflake', 'boto3', 'aws_lambda_powertools')]; print(bad); assert not bad"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
