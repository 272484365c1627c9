"""Keeps the embedded stack's AWS state between runs (moto keeps it in memory only).

At the end of a run the calendar table and the landing bucket are saved under the state directory;
the next run restores them before S3 notifications are enabled, so nothing already landed is
announced again and a run with nothing new has nothing to do.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from f1common.clients import aws_client
from f1common.errors import bounded
from f1common.race_calendar import RaceCalendar, from_attributes, to_attributes
from f1common.settings import Settings
from f1common.transform import TRANSFORMER_STATE_PREFIX

log = logging.getLogger(__name__)


def save_state(settings: Settings, state_dir: Path) -> dict[str, int]:
    """Writes the calendar items and landed objects to `state_dir`; returns counts."""
    s3, ddb = aws_client("s3", settings), aws_client("dynamodb", settings)
    items = [from_attributes(raw) for raw in RaceCalendar(ddb, settings.table).scan_raw()]
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "calendar.json").write_text(json.dumps(items, default=_json_default, indent=1, sort_keys=True))

    objects_dir = state_dir / "s3"
    saved = {p.relative_to(objects_dir).as_posix() for p in objects_dir.rglob("*") if p.is_file()}
    count = refused = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket):
        for obj in page.get("Contents", []):
            target = _saved_path(objects_dir, obj["Key"])
            if target is None:  # the emulator takes any key; the state directory only keys that stay inside it
                refused += 1
                log.warning("object not saved: its key is no path inside the state", extra={"key": bounded(obj["Key"])})
                continue
            count += 1
            # landed keys are written once (unique run ids): never changed; the transformer's state is rewritten
            if obj["Key"] in saved and not obj["Key"].startswith(TRANSFORMER_STATE_PREFIX):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get_object(Bucket=settings.bucket, Key=obj["Key"])["Body"].read())
    return {"calendar_items": len(items), "objects": count, **({"refused": refused} if refused else {})}


def _saved_path(objects_dir: Path, key: str) -> Path | None:
    """Where an object is saved: its key's segments below `objects_dir`, or None for a key that is not a plain
    relative path (absolute, an empty, '.' or '..' segment, a backslash or NUL)."""
    parts = key.split("/")
    if not key or "\\" in key or "\0" in key or any(part in ("", ".", "..") for part in parts):
        return None
    return objects_dir.joinpath(*parts)


def restore_state(settings: Settings, state_dir: Path) -> dict[str, int]:
    """Puts saved items and objects back into the (fresh) emulated AWS; returns counts."""
    s3, ddb = aws_client("s3", settings), aws_client("dynamodb", settings)
    calendar = state_dir / "calendar.json"
    items = json.loads(calendar.read_text()) if calendar.exists() else []
    for item in items:
        ddb.put_item(TableName=settings.table, Item=to_attributes({k: _from_json(v) for k, v in item.items()}))
    objects_dir = state_dir / "s3"
    count = 0
    for path in sorted(objects_dir.rglob("*")) if objects_dir.exists() else []:
        if path.is_file():
            s3.put_object(Bucket=settings.bucket, Key=path.relative_to(objects_dir).as_posix(), Body=path.read_bytes())
            count += 1
    return {"calendar_items": len(items), "objects": count}


def _json_default(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return {"__decimal__": str(value)}
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot save {type(value).__name__}")


def _from_json(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, dict):
        if set(value) == {"__decimal__"}:
            return Decimal(value["__decimal__"])
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if isinstance(value, float):
        return Decimal(str(value))
    return value
