"""Writing to the S3 landing zone: Parquet bytes with ``put_object``, then the manifest, last."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from f1common.datasets import Dataset
from f1common.layout import manifest_key
from f1common.manifest import Manifest, ManifestFile
from f1common.tables import sha256, to_parquet_bytes

PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"


def put_table(s3: Any, bucket: str, key: str, dataset: Dataset, table: pa.Table) -> ManifestFile:
    """Uploads one table as Parquet and returns its manifest entry (rows, bytes, sha256)."""
    data = to_parquet_bytes(table)
    digest = sha256(data)
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=data,
        ContentType=PARQUET_CONTENT_TYPE,
        Metadata={"sha256": digest, "rows": str(table.num_rows), "dataset": dataset.value},
    )
    return ManifestFile(dataset=dataset, key=key, rows=table.num_rows, bytes=len(data), sha256=digest)


def put_manifest(s3: Any, bucket: str, manifest: Manifest) -> str:
    """Writes the manifest that completes a run; returns its key."""
    key = manifest_key(manifest.run_id)
    s3.put_object(Bucket=bucket, Key=key, Body=manifest.to_json(), ContentType="application/json")
    return key


def list_keys(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    """Every key under ``prefix``, sorted."""
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return sorted(keys)
