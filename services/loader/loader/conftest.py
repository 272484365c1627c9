"""Fixtures: moto S3/SQS in-process, landed runs built with f1common from the real Ergast dump, fakesnow."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import fakesnow
import pyarrow as pa
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from moto import mock_aws

from f1common.clients import clear_client_cache
from f1common.datasets import Dataset, Source
from f1common.ergast import ergast_files, read_ergast_csv
from f1common.lambda_context import LocalContext
from f1common.layout import data_key, manifest_key, new_run_id
from f1common.manifest import Manifest, ManifestFile
from f1common.settings import Settings
from f1common.tables import sha256, to_parquet_bytes
from f1common.testing import f1data_dir_or_skip
from loader.duckdb_warehouse import DuckDBWarehouse
from loader.loading import LandedFile
from loader.snowflake_auth import connect
from loader.snowflake_warehouse import SnowflakeWarehouse

REGION = "eu-west-1"
BUCKET = "gpi-test-landing"
SNOWFLAKE_DATABASE = "GPI_TEST"
SMALL = [Dataset.ERGAST_STATUS, Dataset.ERGAST_CIRCUITS, Dataset.ERGAST_CONSTRUCTORS]


@pytest.fixture(scope="session")
def ergast_tables() -> dict[Dataset, pa.Table]:
    """Every Ergast dataset read from the shared dump (skips when the shared data is absent)."""
    ergast_dir = f1data_dir_or_skip() / "ergast"
    return {d: read_ergast_csv(p, d) for d, p in ergast_files(ergast_dir).items()}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("GPI_AWS_ENDPOINT_URL", raising=False)
    for var, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "GPI_LANDING_BUCKET": BUCKET,  # the handlers' landing bucket (Settings().bucket)
    }.items():
        monkeypatch.setenv(var, value)
    clear_client_cache()
    with mock_aws():
        yield
    clear_client_cache()


@pytest.fixture
def s3(aws: None) -> Any:
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})  # type: ignore[typeddict-item]
    return client


@pytest.fixture
def warehouse(tmp_path: Any) -> Iterator[DuckDBWarehouse]:
    with DuckDBWarehouse.open(tmp_path / "warehouse.duckdb") as wh:
        yield wh


@pytest.fixture
def lambda_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The DuckDB file the handlers open (GPI_WAREHOUSE_PATH), in the test's directory."""
    path = tmp_path / "lambda.duckdb"
    monkeypatch.setenv("GPI_WAREHOUSE_PATH", str(path))
    return path


def lambda_context(function_name: str = "gpi-test-loader") -> LocalContext:
    """The context Lambda passes one of the loader's functions (what its handlers and Powertools read)."""
    return LocalContext(
        function_name=function_name,
        invoked_function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:{function_name}",
        aws_request_id="req-1",
        memory_limit_in_mb=512,
    )


def emf_metrics(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The EMF metric documents (Powertools' `log_metrics`) printed so far."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]


class Run:
    """An ingestion run: Parquet files plus the manifest that completes it, put into S3 on demand."""

    def __init__(self, run_id: str | None = None) -> None:
        self.run_id = run_id or new_run_id()
        self.files: dict[str, bytes] = {}
        self.entries: list[ManifestFile] = []

    @classmethod
    def of(cls, tables: dict[Dataset, pa.Table], datasets: list[Dataset] = SMALL) -> Run:
        """A run with a file of each of `datasets` (their tables from `tables`), not landed yet."""
        run = cls()
        for d in datasets:
            run.add(d, tables[d])
        return run

    def add(
        self, dataset: Dataset, table: pa.Table | None = None, *, data: bytes | None = None, rows: int | None = None
    ) -> str:
        """Adds a file; `data`/`rows` override the bytes and the manifest's row count (to make bad files)."""
        key = data_key(dataset, self.run_id)
        payload = data if data is not None else to_parquet_bytes(table)
        count = rows if rows is not None else (table.num_rows if table is not None else 0)
        self.files[key] = payload
        self.entries.append(
            ManifestFile(dataset=dataset, key=key, rows=count, bytes=len(payload), sha256=sha256(payload))
        )
        return key

    @property
    def manifest(self) -> Manifest:
        return Manifest(
            run_id=self.run_id,
            source=Source.ERGAST,
            created_at=dt.datetime.now(dt.timezone.utc),
            producer="loader-test",
            files=self.entries,
        )

    @property
    def manifest_key(self) -> str:
        return manifest_key(self.run_id)

    @property
    def keys(self) -> list[str]:
        return list(self.files)

    def put_files(self, s3: Any, keys: list[str] | None = None) -> None:
        for key in keys if keys is not None else self.keys:
            s3.put_object(Bucket=BUCKET, Key=key, Body=self.files[key])

    def put_manifest(self, s3: Any) -> None:
        s3.put_object(Bucket=BUCKET, Key=self.manifest_key, Body=self.manifest.to_json())

    def land(self, s3: Any) -> None:
        """Files first, manifest last, as the ingestion service does."""
        self.put_files(s3)
        self.put_manifest(s3)


def s3_event(key: str, bucket: str = BUCKET, encode: bool = True) -> str:
    """An S3 ObjectCreated notification body as moto sends it (key URL-encoded)."""
    from urllib.parse import quote_plus

    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": REGION,
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(key) if encode else key}},
                }
            ]
        }
    )


# --- Snowflake (fakesnow) ---


def private_key_pem(passphrase: bytes | None = None) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    encryption = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


@pytest.fixture(scope="module")
def pem() -> bytes:
    return private_key_pem()


@pytest.fixture
def snowflake_settings(tmp_path: Path, pem: bytes) -> Settings:
    key_file = tmp_path / "rsa_key.p8"
    key_file.write_bytes(pem)
    return Settings(
        snowflake_account="gpi-test",
        snowflake_user="LOADER",
        snowflake_private_key_path=key_file,
        snowflake_database=SNOWFLAKE_DATABASE,
        snowflake_role="LOADER",
        snowflake_warehouse="LOAD_WH",
    )


@pytest.fixture
def sf(snowflake_settings: Settings, tmp_path: Path) -> Iterator[SnowflakeWarehouse]:
    with fakesnow.patch():
        conn = connect(snowflake_settings)
        warehouse = SnowflakeWarehouse(conn, database=SNOWFLAKE_DATABASE, work_dir=tmp_path / "work")
        warehouse.ensure_schema()
        yield warehouse
        conn.close()


# Column names a landed file may carry that must never become SQL (f1common.warehouse.check_identifier).
HOSTILE_NAMES = [
    "x VARCHAR; DELETE FROM staging.laps_staging; COMMIT; --",
    'note" VARCHAR); DROP TABLE staging.load_history; --',
    "Note",  # upper case: DuckDB and Snowflake would disagree on what it names
    "a b",
    "é",
    "n" * 64,
    "1st",
]


def landed_file(table: pa.Table, directory: Path) -> LandedFile:
    """`table` as the loader reads a checked file: written as the ingestion writes it, read in record batches."""
    path = directory / f"landed-{len(list(directory.glob('landed-*')))}.parquet"
    path.write_bytes(to_parquet_bytes(table))
    return LandedFile(path, table.num_rows, table.schema)


def with_column(table: pa.Table, name: str) -> pa.Table:
    """`table` with a string column `name` appended (additive drift, or a hostile name)."""
    return table.append_column(pa.field(name, pa.string()), pa.array(["x"] * table.num_rows, pa.string()))


def check_streamed_order(
    warehouse: Any, query: str, tables: dict[Dataset, pa.Table], monkeypatch: pytest.MonkeyPatch, s3: Any
) -> None:
    """Loads the Ergast results in batches of 1,000 rows; every row keeps its position (`_row_number`) and values.

    `query` selects ``_row_number, result_id`` of the results staging table, ordered by ``_row_number``.
    """
    import loader.loading

    monkeypatch.setattr(loader.loading, "BATCH_ROWS", 1000)
    results = tables[Dataset.ERGAST_RESULTS]
    assert results.num_rows > 20_000  # many batches
    run = Run()
    key = run.add(Dataset.ERGAST_RESULTS, results)
    run.land(s3)
    report = loader.loading.load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=warehouse)
    assert report.keys(loader.loading.Outcome.LOADED) == [key]
    rows = [(int(n), int(r)) for n, r in warehouse_rows(warehouse, query)]
    assert rows == list(enumerate(results.column("result_id").to_pylist(), start=1))


def warehouse_rows(warehouse: Any, query: str) -> list[tuple[Any, ...]]:
    if isinstance(warehouse, DuckDBWarehouse):
        return warehouse.con.execute(query).fetchall()
    return warehouse._execute(query)  # type: ignore[no-any-return]


def check_a_late_delivery_leaves_no_pending_row(s3: Any, warehouse: Any, run: Run, pending_table: str) -> None:
    """A file's notification processed after its run loaded (a redelivery) cannot mark the loaded file pending;
    a file still waiting keeps one row with the latest reason."""
    from loader.loading import load_keys

    run.put_files(s3)
    run.put_manifest(s3)
    load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=warehouse)
    loaded = run.keys[0]
    warehouse.mark_pending(loaded, run_id=run.run_id, dataset="x", reason="late notification")
    waiting = f"{loaded}.next"
    for reason in ("no manifest yet", "still no manifest"):
        warehouse.mark_pending(waiting, run_id=run.run_id, dataset="x", reason=reason)
    rows = warehouse_rows(warehouse, f"SELECT file_name, reason FROM {pending_table}")
    assert [tuple(r) for r in rows] == [(waiting, "still no manifest")]


def check_the_claim_refuses_a_file_loaded_meanwhile(
    s3: Any, warehouse: Any, status: pa.Table, directory: Path
) -> tuple[str, int]:
    """What a delivery that checked file_state before the other one committed goes on to do: load or quarantine
    the file the other one loaded. The warehouse refuses both and keeps the file's rows once. Returns the file's
    key and its rows."""
    from f1common.datasets import dataset_spec
    from loader.loading import AlreadyProcessed, load_keys

    run = Run()
    key = run.add(Dataset.ERGAST_STATUS, status)
    run.land(s3)
    load_keys([run.manifest_key], s3=s3, bucket=BUCKET, warehouse=warehouse)

    spec = dataset_spec(Dataset.ERGAST_STATUS)
    with pytest.raises(AlreadyProcessed, match="already loaded"):
        warehouse.load_file(spec, landed_file(status, directory), key=key, run_id=run.run_id, new_columns=[])
    with pytest.raises(AlreadyProcessed, match="already loaded"):
        warehouse.quarantine(key, run_id=run.run_id, dataset=spec.name, error="a false quarantine")
    assert warehouse.staging_rows(spec) == status.num_rows
    return key, status.num_rows
