"""Writing to the S3 landing zone: Parquet bytes with ``put_object`` (tagged pending), then the manifest, last.

A run's files are tagged ``gpi-publication=pending`` when written and re-tagged ``published`` just before the
manifest (:func:`publish_files`); pending files expire by the bucket's lifecycle rule. Files that no manifest
will list (a run that died or lost its claim) are reported by :func:`report_orphans`: a marker listing them,
and each tagged pending again so that it expires.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlencode

import pyarrow as pa

from f1common.clock import utc_iso
from f1common.datasets import Dataset
from f1common.layout import PENDING, PUBLICATION_TAG, PUBLISHED, manifest_key, orphan_marker_key
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
        Tagging=urlencode({PUBLICATION_TAG: PENDING}),
    )
    return ManifestFile(dataset=dataset, key=key, rows=table.num_rows, bytes=len(data), sha256=digest)


def put_manifest(s3: Any, bucket: str, manifest: Manifest) -> str:
    """Writes the manifest that completes a run; returns its key."""
    key = manifest_key(manifest.run_id)
    s3.put_object(Bucket=bucket, Key=key, Body=manifest.to_json(), ContentType="application/json")
    return key


def tag_files(s3: Any, bucket: str, keys: list[str], state: str) -> None:
    for key in keys:
        s3.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": [{"Key": PUBLICATION_TAG, "Value": state}]})


def publish_files(s3: Any, bucket: str, keys: list[str]) -> None:
    """Re-tags a run's files ``published`` (they no longer expire): done after the fence, before the manifest."""
    tag_files(s3, bucket, keys, PUBLISHED)


_MISSING = ("404", "NoSuchKey", "NotFound")


def _missing(exc: Exception) -> bool:
    """A ClientError that says the object does not exist."""
    response = getattr(exc, "response", None) or {}
    return response.get("Error", {}).get("Code") in _MISSING


def manifest_exists(s3: Any, bucket: str, run_id: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=bucket, Key=manifest_key(run_id))
    except ClientError as exc:
        if _missing(exc):
            return False
        raise
    return True


def get_json(s3: Any, bucket: str, key: str) -> Any:
    """The JSON object at `key` (a marker), or None when it does not exist or is not JSON."""
    from botocore.exceptions import ClientError

    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if _missing(exc):
            return None
        raise
    try:
        return json.loads(body)
    except ValueError:
        return None


def put_json(s3: Any, bucket: str, key: str, body: dict[str, Any]) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(body, sort_keys=True), ContentType="application/json")


def report_orphans(
    s3: Any, bucket: str, run_id: str, session_key: str, keys: list[str], reason: str, now: dt.datetime
) -> str:
    """Records files of `run_id` that no manifest will list (``markers/orphans/<run_id>.json``) and tags each
    pending so that the lifecycle rule expires it; returns the marker's key."""
    tag_files(s3, bucket, keys, PENDING)
    marker = orphan_marker_key(run_id)
    body = {"run_id": run_id, "session": session_key, "files": keys, "reason": reason, "detected_at": utc_iso(now)}
    put_json(s3, bucket, marker, body)
    return marker


def list_keys(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    """Every key under ``prefix``, sorted."""
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return sorted(keys)
