"""A corrupt file in the landing zone is quarantined in `staging.load_quarantine` with the reason; the
other files of its run and the other sessions flow into staging and dbt's facts."""

from __future__ import annotations

from typing import Any

import pytest

import ingestion.ingest
from f1common.datasets import Dataset, dataset_spec
from f1common.manifest import Manifest, ManifestFile
from f1common.sessions import SessionId
from f1common.tables import sha256
from grandprix_local.harness import EmbeddedStack, run_dbt_facts
from loader.loading import Outcome

CORRUPTED = "2023-01-R"
CLEAN = "2025-01-R"
VICTIM = Dataset.WEATHER


def overwrite_before_manifest(monkeypatch: pytest.MonkeyPatch, stack: EmbeddedStack) -> None:
    """The weather file of the run is overwritten with a truncated copy before the manifest is written."""
    real_put_manifest = ingestion.ingest.put_manifest

    def put_manifest(s3: Any, bucket: str, manifest: Manifest) -> str:
        entry = next(f for f in manifest.files if f.dataset is VICTIM)
        data = s3.get_object(Bucket=bucket, Key=entry.key)["Body"].read()
        s3.put_object(Bucket=bucket, Key=entry.key, Body=data[: len(data) // 2])
        return real_put_manifest(s3, bucket, manifest)

    monkeypatch.setattr(ingestion.ingest, "put_manifest", put_manifest)


def bad_parquet_under_manifest(monkeypatch: pytest.MonkeyPatch, stack: EmbeddedStack) -> None:
    """The weather file is not Parquet at all, and the manifest lists it with its true size and checksum."""
    real_put_table = ingestion.ingest.put_table

    def put_table(s3: Any, bucket: str, key: str, dataset: Dataset, table: Any) -> ManifestFile:
        if dataset is not VICTIM:
            return real_put_table(s3, bucket, key, dataset, table)
        data = b"PAR1 this is not a parquet file " * 50
        s3.put_object(Bucket=bucket, Key=key, Body=data)
        return ManifestFile(dataset=dataset, key=key, rows=table.num_rows, bytes=len(data), sha256=sha256(data))

    monkeypatch.setattr(ingestion.ingest, "put_table", put_table)


@pytest.mark.parametrize(
    ("corrupt", "reason"),
    [(overwrite_before_manifest, "bytes, manifest says"), (bad_parquet_under_manifest, "not a readable Parquet file")],
)
def test_a_corrupt_file_is_quarantined_and_the_rest_flows(
    stack: EmbeddedStack, monkeypatch: pytest.MonkeyPatch, corrupt: Any, reason: str
) -> None:
    stack.pipeline.sync_calendar([SessionId.parse(CORRUPTED), SessionId.parse(CLEAN)])
    with monkeypatch.context() as patch:
        corrupt(patch, stack)
        corrupted = stack.ingest(CORRUPTED)
    clean = stack.ingest(CLEAN)
    assert corrupted["status"] == clean["status"] == "ingested"

    report = stack.drain()
    manifests = stack.manifests()
    bad = next(f for f in manifests[corrupted["run_id"]].files if f.dataset is VICTIM)
    assert report.keys(Outcome.QUARANTINED) == [bad.key]
    quarantined = stack.query("select file_name, run_id, dataset, error from staging.load_quarantine")
    assert len(quarantined) == 1
    file_name, run_id, dataset, error = quarantined[0]
    assert (file_name, run_id, dataset) == (bad.key, corrupted["run_id"], VICTIM.value)
    assert reason in error

    # nothing of the bad file was staged; every other file of both runs was, in full
    assert stack.session_rows(dataset_spec(VICTIM).staging_table, CORRUPTED) == 0
    for key, outcome in ((CORRUPTED, corrupted), (CLEAN, clean)):
        for entry in manifests[outcome["run_id"]].files:
            if entry.key != bad.key:
                assert stack.session_rows(dataset_spec(entry.dataset).staging_table, key) == entry.rows

    # a redelivered notification of the bad file does not retry it forever: it stays quarantined
    stack.redeliver([bad.key], times=2)
    again = stack.drain()
    assert again.counts["skipped"] == 2 and again.counts["quarantined"] == 0

    # and the facts are built from what flowed
    run_dbt_facts(stack.warehouse, stack.warehouse.parent / "dbt")
    laps = stack.query("select session_key, count(*) from analytics.fct_laps group by 1 order by 1")
    assert laps == [(k, stack.session_rows("laps_staging", k)) for k in sorted((CORRUPTED, CLEAN))]
