"""Reads the Ergast/Jolpica database dump (CSV) into tables of the `ergast_*` dataset schemas."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from f1common.datasets import ERGAST_DATASETS, Dataset, DatasetSpec, dataset_spec
from f1common.tables import SchemaError


def snake_case(name: str) -> str:
    """`positionOrder` -> `position_order`, `fp1_date` stays."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def read_ergast_csv(path: Path, dataset: Dataset | str | DatasetSpec) -> pa.Table:
    """Reads one dump CSV (`\\N` is null) into a table of the dataset's schema.

    Columns of the CSV that the schema does not have (e.g. practice dates in races.csv) are dropped;
    a column the schema needs but the CSV lacks raises :class:`SchemaError`.
    """
    spec = dataset if isinstance(dataset, DatasetSpec) else dataset_spec(dataset)
    schema = spec.arrow_schema()
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        names = [snake_case(h) for h in next(reader)]
        missing = [n for n in schema.names if n not in names]
        if missing:
            raise SchemaError(f"{spec.name}: {path.name} lacks columns {missing}")
        wanted = [names.index(n) for n in schema.names]
        width = len(names)
        columns: list[list[str | None]] = [[] for _ in wanted]
        for line, row in enumerate(reader, start=2):
            if len(row) > width:
                raise SchemaError(f"{spec.name}: {path.name} line {line} has {len(row)} fields, header has {width}")
            for out, idx in zip(columns, wanted):
                # Trailing fields absent from a short row are null, as is the dump's '\\N'.
                value = row[idx] if idx < len(row) else None
                out.append(None if value in (None, "\\N", "") else value)
    raw = {n: pa.chunked_array([pa.array(c, pa.string())]) for n, c in zip(schema.names, columns)}
    arrays = []
    for field in schema:
        column = raw[field.name]
        try:
            arrays.append(_cast(column, field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise SchemaError(f"{spec.name}: column {field.name!r} of {path.name} is not {field.type}: {exc}") from exc
        if not field.nullable and arrays[-1].null_count:
            raise SchemaError(f"{spec.name}: column {field.name!r} of {path.name} has nulls")
    return pa.Table.from_arrays(arrays, schema=schema)


def _cast(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    if pa.types.is_string(target):
        return column
    if pa.types.is_date32(target):
        return pc.cast(pc.strptime(column, format="%Y-%m-%d", unit="s"), pa.date32())
    return pc.cast(column, target)


def ergast_files(dump_dir: Path) -> dict[Dataset, Path]:
    """The dump's CSV file for every Ergast dataset; raises naming any file that is missing."""
    files = {d: dump_dir / (dataset_spec(d).source_file or "") for d in ERGAST_DATASETS}
    absent = [p.name for p in files.values() if not p.is_file()]
    if absent:
        raise FileNotFoundError(f"Ergast dump at {dump_dir} lacks {absent}")
    return files
