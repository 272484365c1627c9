"""The Ergast backfill on the real dump into in-process moto."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

import pytest

from f1common.datasets import ERGAST_DATASETS, Partition, Source, dataset_spec
from f1common.layout import MANIFEST_PREFIX, parse_data_key
from f1common.manifest import Manifest
from f1common.settings import Settings
from f1common.tables import read_parquet_bytes, schema_diff
from ingestion.ergast_landing import MARKER_PREFIX, land_ergast, main
from ingestion.landing import list_keys


@pytest.fixture(scope="module")
def dump(f1data_dir: Path) -> Path:
    return f1data_dir / "ergast"


def source_rows(path: Path) -> int:
    """Records in a dump CSV, counted independently of the reader under test."""
    with path.open(encoding="utf-8", newline="") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


def test_backfill_lands_every_csv_with_the_source_row_counts_then_skips(
    aws: tuple[Any, Any], settings: Settings, dump: Path
) -> None:
    s3, _ = aws
    lines: list[str] = []
    result = land_ergast(dump, s3=s3, settings=settings, progress=lines.append)

    assert not result.skipped and result.run_id is not None
    [manifest_key] = list_keys(s3, settings.bucket, MANIFEST_PREFIX)
    manifest = Manifest.from_json(s3.get_object(Bucket=settings.bucket, Key=manifest_key)["Body"].read())
    assert manifest.source is Source.ERGAST and manifest.source_version == result.source_version
    assert manifest.session is None
    assert {f.dataset for f in manifest.files} == set(ERGAST_DATASETS)
    for entry in manifest.files:
        spec = dataset_spec(entry.dataset)
        expected = source_rows(dump / (spec.source_file or ""))
        assert entry.rows == expected, entry.dataset
        landed = read_parquet_bytes(s3.get_object(Bucket=settings.bucket, Key=entry.key)["Body"].read())
        assert landed.num_rows == expected
        assert schema_diff(landed.schema, spec).matches, entry.dataset
        assert spec.partition is Partition.NONE and parse_data_key(entry.key).season is None
    assert result.rows["ergast_results"] > 26_000 and result.rows["ergast_races"] > 1_100
    # Progress: one line per dataset with its rows, then a summary.
    assert len(lines) == len(ERGAST_DATASETS) + 1
    assert lines[0].startswith("[1/9] ergast_races: ") and f"{result.rows['ergast_races']:,} rows" in lines[0]

    keys = list_keys(s3, settings.bucket)
    again = land_ergast(dump, s3=s3, settings=settings, progress=lines.append)
    assert again.skipped and again.existing_run_id == result.run_id
    assert list_keys(s3, settings.bucket) == keys

    # Without the marker, the manifest of the same source version still makes it a no-op.
    s3.delete_object(Bucket=settings.bucket, Key=f"{MARKER_PREFIX}{result.source_version}.json")
    third = land_ergast(dump, s3=s3, settings=settings, progress=lines.append)
    assert third.skipped and third.existing_run_id == result.run_id
    assert len(list_keys(s3, settings.bucket, MANIFEST_PREFIX)) == 1


def test_a_changed_dump_lands_again(aws: tuple[Any, Any], settings: Settings, dump: Path, tmp_path: Path) -> None:
    s3, _ = aws
    copy = tmp_path / "ergast"
    shutil.copytree(dump, copy)
    first = land_ergast(copy, s3=s3, settings=settings, progress=lambda _: None)
    with (copy / "status.csv").open("a", encoding="utf-8") as fh:
        fh.write("999,Testing backfill\n")
    second = land_ergast(copy, s3=s3, settings=settings, progress=lambda _: None)

    assert not second.skipped and second.source_version != first.source_version
    assert second.rows["ergast_status"] == first.rows["ergast_status"] + 1
    assert len(list_keys(s3, settings.bucket, MANIFEST_PREFIX)) == 2


def test_a_dump_lacking_a_file_is_refused_before_writing(
    aws: tuple[Any, Any], settings: Settings, dump: Path, tmp_path: Path
) -> None:
    s3, _ = aws
    copy = tmp_path / "ergast"
    shutil.copytree(dump, copy)
    (copy / "pit_stops.csv").unlink()
    with pytest.raises(FileNotFoundError, match="pit_stops.csv"):
        land_ergast(copy, s3=s3, settings=settings, progress=lambda _: None)
    assert list_keys(s3, settings.bucket) == []


def test_cli_refuses_a_missing_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--dump", str(tmp_path / "nowhere")])
    assert "--dump" in capsys.readouterr().err
