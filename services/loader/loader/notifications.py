"""S3 event notifications as delivered through SQS (Powertools' S3 event data classes): the created objects.

Two formats announce a created object: an S3 event notification (``Records``, possibly inside an SNS
envelope) and an EventBridge event (``source: aws.s3``, ``detail-type: Object Created``). Each record is
parsed on its own: a malformed record is counted and described in :attr:`Notification.malformed` while the
valid records beside it are kept; a body that is neither format, or whose records are all malformed, is a
:class:`BadMessage`. A record that names another bucket than the landing bucket is malformed too: the loader reads
no bucket an event names but its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventBridgeNotificationEvent

from f1common.errors import bounded


class BadMessage(ValueError):
    """An SQS message body that is not an S3 event notification; the message says what it was."""


@dataclass(frozen=True)
class S3ObjectRef:
    bucket: str
    key: str


@dataclass
class Notification:
    """What one message announces: the created objects (in order, without duplicates) and its malformed records."""

    objects: list[S3ObjectRef] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)  # one bounded description per record that was not parsed

    def add(self, ref: S3ObjectRef) -> None:
        if ref not in self.objects:
            self.objects.append(ref)


def _ref(bucket: Any, key: Any, landing: str) -> S3ObjectRef:
    if not isinstance(bucket, str) or not bucket or not isinstance(key, str) or not key:
        raise ValueError("lacks s3.bucket.name or s3.object.key")
    if bucket != landing:
        raise ValueError(f"names bucket {bounded(bucket, 80)}, not the landing bucket")
    # Keys are URL-decoded (`unquote_plus`: moto encodes `/` and `=`, real S3 encodes spaces as `+`).
    return S3ObjectRef(bucket=bucket, key=unquote_plus(key))


def _s3_records(message: dict[str, Any], out: Notification, landing: str) -> None:
    for i, record in enumerate(S3Event(message).records):
        try:
            if not isinstance(record.raw_event, dict):
                raise ValueError(f"is a JSON {type(record.raw_event).__name__}")
            if record.get("eventSource") != "aws:s3" or not str(record.get("eventName", "")).startswith(
                "ObjectCreated"
            ):
                continue
            s3 = record.get("s3") or {}
            out.add(_ref((s3.get("bucket") or {}).get("name"), (s3.get("object") or {}).get("key"), landing))
        except (ValueError, TypeError, AttributeError) as exc:
            out.malformed.append(f"S3 event record {i} {exc}: {bounded(record.raw_event)}")


def _eventbridge(message: dict[str, Any], out: Notification, landing: str) -> None:
    event = S3EventBridgeNotificationEvent(message)
    if event.detail_type != "Object Created":
        return
    detail = message.get("detail")
    if not isinstance(detail, dict):
        out.malformed.append(f"EventBridge S3 event without a detail object: {bounded(message)}")
        return
    try:
        out.add(_ref((detail.get("bucket") or {}).get("name"), (detail.get("object") or {}).get("key"), landing))
    except (ValueError, TypeError, AttributeError) as exc:
        out.malformed.append(f"EventBridge S3 event {exc}: {bounded(detail)}")


def parse_notification(body: str | bytes | dict[str, Any], landing: str) -> Notification:
    """The created objects of the `landing` bucket that one SQS message body announces (see the module doc; objects
    of other buckets are malformed records); raises BadMessage for other bodies.

    `s3:TestEvent` messages (sent when a notification is configured) and non-create events give no
    objects; an SNS envelope around the S3 event is unwrapped.
    """
    if isinstance(body, dict):
        message: Any = body
    else:
        try:
            message = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BadMessage(f"SQS message body is not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise BadMessage(f"SQS message body is a JSON {type(message).__name__}, expected an S3 event object")
    out = Notification()
    if message.get("Event") == "s3:TestEvent":
        return out
    if message.get("Type") == "Notification" and isinstance(message.get("Message"), str):
        return parse_notification(message["Message"], landing)
    if message.get("source") == "aws.s3" and "detail-type" in message:
        _eventbridge(message, out, landing)
        return out
    if not isinstance(message.get("Records"), list):
        raise BadMessage(f"not an S3 event notification: no 'Records' list (keys: {bounded(sorted(message))})")
    _s3_records(message, out, landing)
    if out.malformed and not out.objects:
        raise BadMessage(f"{len(out.malformed)} malformed S3 event record(s), none valid: {out.malformed[0]}")
    return out


def s3_objects(body: str | bytes | dict[str, Any], landing: str) -> list[S3ObjectRef]:
    """The created objects of one SQS message body (:func:`parse_notification` without the malformed records)."""
    return parse_notification(body, landing).objects
