"""S3 event notifications as delivered through SQS (Powertools' S3 event data classes): the created objects."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event


class BadMessage(ValueError):
    """An SQS message body that is not an S3 event notification; the message says what it was."""


@dataclass(frozen=True)
class S3ObjectRef:
    bucket: str
    key: str


def s3_objects(body: str | bytes | dict[str, Any]) -> list[S3ObjectRef]:
    """The created objects of one SQS message body, in order, without duplicates.

    Keys are URL-decoded (`unquote_plus`: moto encodes `/` and `=`, real S3 encodes spaces as `+`).
    `s3:TestEvent` messages (sent when a notification is configured) and non-create events give no
    objects; an SNS envelope around the S3 event is unwrapped.
    """
    if isinstance(body, dict):
        message: Any = body
    else:
        try:
            message = json.loads(body)
        except json.JSONDecodeError as exc:
            raise BadMessage(f"SQS message body is not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise BadMessage(f"SQS message body is a JSON {type(message).__name__}, expected an S3 event object")
    if message.get("Event") == "s3:TestEvent":
        return []
    if message.get("Type") == "Notification" and isinstance(message.get("Message"), str):
        return s3_objects(message["Message"])
    if not isinstance(message.get("Records"), list):
        raise BadMessage(f"not an S3 event notification: no 'Records' list (keys: {sorted(message)})")
    refs: dict[S3ObjectRef, None] = {}
    for i, record in enumerate(S3Event(message).records):
        if record.get("eventSource") != "aws:s3" or not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        try:
            refs[S3ObjectRef(bucket=record.s3.bucket.name, key=unquote_plus(record.s3.get_object.key))] = None
        except (KeyError, TypeError, AttributeError):
            raise BadMessage(f"S3 event record {i} lacks s3.bucket.name or s3.object.key") from None
    return list(refs)
