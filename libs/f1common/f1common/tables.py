"""Conversion between data frames, Arrow tables and Parquet bytes, checked against a dataset schema."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from f1common.datasets import Dataset, DatasetSpec, dataset_spec

if TYPE_CHECKING:
    import pandas as pd


class SchemaError(ValueError):
    """Data does not match its dataset's schema; the message names the dataset and columns."""


@dataclass(frozen=True)
class SchemaDiff:
    """How a table's schema differs from its dataset's schema."""

    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    mistyped: dict[str, tuple[str, str]] = field(default_factory=dict)  # column -> (expected, actual)

    @property
    def matches(self) -> bool:
        return not (self.missing or self.extra or self.mistyped)

    @property
    def additive_only(self) -> bool:
        """Only new columns: loadable without losing data (the new columns are added)."""
        return not (self.missing or self.mistyped)

    def describe(self) -> str:
        parts = []
        if self.missing:
            parts.append(f"missing columns {self.missing}")
        if self.extra:
            parts.append(f"unexpected columns {self.extra}")
        for col, (want, got) in self.mistyped.items():
            parts.append(f"column {col!r} is {got}, expected {want}")
        return "; ".join(parts) or "schema matches"


def schema_diff(schema: pa.Schema, dataset: Dataset | str | DatasetSpec) -> SchemaDiff:
    spec = dataset if isinstance(dataset, DatasetSpec) else dataset_spec(dataset)
    expected = spec.arrow_schema()
    missing = [n for n in expected.names if n not in schema.names]
    extra = [n for n in schema.names if n not in expected.names]
    mistyped = {}
    for f in expected:
        if f.name in schema.names:
            actual = schema.field(f.name).type
            if not _compatible(f.type, actual):
                mistyped[f.name] = (str(f.type), str(actual))
    return SchemaDiff(missing, extra, mistyped)


def _compatible(expected: pa.DataType, actual: pa.DataType) -> bool:
    if expected.equals(actual):
        return True
    if pa.types.is_null(actual):  # an all-null column
        return True
    if pa.types.is_timestamp(expected) and pa.types.is_timestamp(actual):
        return actual.tz is not None and actual.tz.upper() in ("UTC", "+00:00", "ETC/UTC")
    return False


def frame_to_table(frame: pd.DataFrame, dataset: Dataset | str | DatasetSpec) -> pa.Table:
    """Converts a frame with exactly the dataset's columns to an Arrow table of its schema.

    Values are cast safely (no silent truncation); a null in a non-nullable column, a missing or
    unexpected column, or an impossible cast raises :class:`SchemaError` naming the column.
    """
    spec = dataset if isinstance(dataset, DatasetSpec) else dataset_spec(dataset)
    schema = spec.arrow_schema()
    missing = [n for n in schema.names if n not in frame.columns]
    extra = [str(c) for c in frame.columns if c not in schema.names]
    if missing or extra:
        raise SchemaError(f"{spec.name}: " + SchemaDiff(missing, extra).describe())
    arrays = []
    for f in schema:
        try:
            arr = pa.array(frame[f.name], from_pandas=True)
            arr = arr.cast(f.type, safe=True) if not arr.type.equals(f.type) else arr
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise SchemaError(f"{spec.name}: column {f.name!r} cannot be stored as {f.type}: {exc}") from exc
        if not f.nullable and arr.null_count:
            raise SchemaError(f"{spec.name}: column {f.name!r} is not nullable but has {arr.null_count} nulls")
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, schema=schema)


def rows_to_table(rows: Sequence[object], dataset: Dataset | str | DatasetSpec) -> pa.Table:
    """Builds a table from row-model instances (or dicts), validating each row."""
    spec = dataset if isinstance(dataset, DatasetSpec) else dataset_spec(dataset)
    records = [spec.row_model.model_validate(r).model_dump() for r in rows]
    return pa.Table.from_pylist(records, schema=spec.arrow_schema())


def to_parquet_bytes(table: pa.Table) -> bytes:
    """Serializes a table to Parquet in memory (then `put_object`; pyarrow's S3 filesystem is not used)."""
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def read_parquet_bytes(data: bytes) -> pa.Table:
    return pq.read_table(io.BytesIO(data))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
