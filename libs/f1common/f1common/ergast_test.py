import csv
from pathlib import Path

import pytest

from f1common.datasets import ERGAST_DATASETS, dataset_spec
from f1common.ergast import ergast_files, read_ergast_csv, snake_case
from f1common.tables import SchemaError, read_parquet_bytes, schema_diff, to_parquet_bytes
from f1common.testing import f1data_dir_or_skip


def dump_dir() -> Path:
    return f1data_dir_or_skip() / "ergast"


def test_snake_case() -> None:
    assert snake_case("positionOrder") == "position_order"
    assert snake_case("fastestLapSpeed") == "fastest_lap_speed"
    assert snake_case("fp1_date") == "fp1_date"


def test_every_dump_file_reads_into_its_schema_with_all_rows() -> None:
    files = ergast_files(dump_dir())
    assert set(files) == set(ERGAST_DATASETS)
    for dataset, path in files.items():
        table = read_ergast_csv(path, dataset)
        with path.open(encoding="utf-8") as fh:
            source_rows = sum(1 for _ in csv.reader(fh)) - 1
        assert table.num_rows == source_rows, dataset
        assert schema_diff(read_parquet_bytes(to_parquet_bytes(table)).schema, dataset).matches


def test_values_and_nulls_are_typed() -> None:
    results = read_ergast_csv(dump_dir() / "results.csv", "ergast_results").to_pylist()
    first = results[0]
    assert first["result_id"] == 1 and first["points"] == 10.0 and first["milliseconds"] == 5690616
    assert any(r["position"] is None for r in results)  # '\N' for retirements
    drivers = {r["driver_ref"]: r for r in read_ergast_csv(dump_dir() / "drivers.csv", "ergast_drivers").to_pylist()}
    assert drivers["max_verstappen"]["code"] == "VER"
    assert drivers["max_verstappen"]["dob"].isoformat() == "1997-09-30"


def test_wrong_file_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "status.csv"
    bad.write_text("statusId,label\n1,Finished\n")
    with pytest.raises(SchemaError, match=r"lacks columns \['status'\]"):
        read_ergast_csv(bad, dataset_spec("ergast_status"))
    with pytest.raises(FileNotFoundError, match="lacks"):
        ergast_files(tmp_path)
