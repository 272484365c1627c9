import datetime as dt

import pandas as pd
import pyarrow as pa
import pytest

from f1common.datasets import DATASETS, ColumnType, Dataset, DatasetSpec, Partition, dataset_spec
from f1common.tables import (
    SchemaError,
    frame_to_table,
    read_parquet_bytes,
    rows_to_table,
    schema_diff,
    to_parquet_bytes,
)

SAMPLE = {
    ColumnType.STRING: "VER",
    ColumnType.INT: 57,
    ColumnType.FLOAT: 95.5,
    ColumnType.BOOL: True,
    ColumnType.TIMESTAMP: dt.datetime(2023, 3, 5, 15, 3, 1, 123000, tzinfo=dt.timezone.utc),
    ColumnType.DATE: dt.date(2023, 3, 5),
}


def sample_rows(spec: DatasetSpec) -> list[dict[str, object]]:
    full = {c.name: SAMPLE[c.type] for c in spec.columns()}
    sparse = {c.name: (None if c.nullable else SAMPLE[c.type]) for c in spec.columns()}
    return [full, sparse]


@pytest.mark.parametrize("dataset", list(Dataset), ids=lambda d: d.value)
def test_each_schema_round_trips_through_parquet(dataset: Dataset) -> None:
    spec = DATASETS[dataset]
    table = rows_to_table(sample_rows(spec), spec)
    back = read_parquet_bytes(to_parquet_bytes(table))
    assert back.schema.equals(spec.arrow_schema(), check_metadata=False)
    assert back.to_pylist() == table.to_pylist()
    assert back.to_pylist()[1] == {c.name: (None if c.nullable else SAMPLE[c.type]) for c in spec.columns()}
    assert schema_diff(back.schema, spec).matches


@pytest.mark.parametrize("dataset", list(Dataset), ids=lambda d: d.value)
def test_natural_keys_are_non_nullable_columns(dataset: Dataset) -> None:
    spec = DATASETS[dataset]
    columns = {c.name: c for c in spec.columns()}
    for key in spec.natural_key:
        assert key in columns, f"{spec.name}: key column {key} missing"
        assert not columns[key].nullable, f"{spec.name}: key column {key} is nullable"
    if spec.partition is Partition.SESSION:
        assert spec.natural_key[:3] == ("season", "round", "session")


def test_staging_tables_are_unique_and_named_like_the_design() -> None:
    tables = [s.staging_table for s in DATASETS.values()]
    assert len(set(tables)) == len(tables)
    assert dataset_spec("drivers").staging_table == "DRIVERS_INFO_STAGING"
    assert dataset_spec(Dataset.LAPS).staging_table == "LAPS_STAGING"


def test_timestamps_are_utc_and_durations_integer_ms() -> None:
    schema = dataset_spec("laps").arrow_schema()
    assert schema.field("lap_start_time_utc").type == pa.timestamp("us", tz="UTC")
    assert schema.field("lap_time_ms").type == pa.int64()
    assert schema.field("season").nullable is False


def test_unknown_dataset_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match="unknown dataset 'lapz'"):
        dataset_spec("lapz")


def test_frame_to_table_casts_and_rejects_bad_frames() -> None:
    spec = dataset_spec("weather")
    row = {c.name: SAMPLE[c.type] for c in spec.columns()}
    frame = pd.DataFrame([row, {**row, "air_temp_c": None, "sample_time_ms": 60000}])
    frame["wind_direction_deg"] = frame["wind_direction_deg"].astype("float64")  # casts back to int safely
    table = frame_to_table(frame, spec)
    assert table.schema.equals(spec.arrow_schema())
    assert table.column("air_temp_c").null_count == 1

    with pytest.raises(SchemaError, match=r"missing columns \['rainfall'\]"):
        frame_to_table(frame.drop(columns=["rainfall"]), spec)
    with pytest.raises(SchemaError, match=r"unexpected columns \['gusts'\]"):
        frame_to_table(frame.assign(gusts=1.0), spec)
    with pytest.raises(SchemaError, match="column 'sample_time_ms' is not nullable"):
        frame_to_table(frame.assign(sample_time_ms=pd.array([None, 1], dtype="Int64")), spec)
    with pytest.raises(SchemaError, match="column 'wind_direction_deg' cannot be stored as int64"):
        frame_to_table(frame.assign(wind_direction_deg=[1.5, 2.0]), spec)


def test_schema_diff_reports_drift() -> None:
    spec = dataset_spec("results")
    schema = spec.arrow_schema()
    drifted = schema.remove(schema.get_field_index("points")).append(pa.field("fastest_lap", pa.int64()))
    drifted = drifted.set(drifted.get_field_index("grid_position"), pa.field("grid_position", pa.string()))
    diff = schema_diff(drifted, spec)
    assert diff.missing == ["points"]
    assert diff.extra == ["fastest_lap"]
    assert diff.mistyped == {"grid_position": ("int64", "string")}
    assert not diff.additive_only
    assert schema_diff(schema.append(pa.field("new_col", pa.float64())), spec).additive_only
