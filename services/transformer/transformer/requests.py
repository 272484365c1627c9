"""The transformer queue's messages, parsed strictly (f1common.transform): landed runs and build requests.

A batch is parsed record by record with Powertools' BatchProcessor: a message that is none of the requests is
logged and reported in ``batchItemFailures`` (after the queue's receive limit it is in the DLQ, alarmed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from f1common.errors import bounded
from f1common.layout import parse_manifest_key
from f1common.names import SERVICE_TRANSFORMER
from f1common.observability import child_logger
from f1common.transform import OBJECT_CREATED, S3_SOURCE, TransformRequest

logger = child_logger(SERVICE_TRANSFORMER)

MAX_QUOTED = 120  # characters of a refused message quoted in its error


class BadRequest(ValueError):
    """A message that is none of the transformer's requests (the error quotes a bounded summary)."""


@dataclass(frozen=True)
class Request:
    """One message: a landed run (`run_id`), or a scheduled/manual build (`run_id` None)."""

    message_id: str
    kind: str  # landed, scheduled, manual
    run_id: str | None = None
    full_refresh: bool = False


def parse_body(message_id: str, body: str) -> Request:
    """A message body: an EventBridge S3 event of a manifest, or a :class:`TransformRequest`."""
    name = bounded(message_id, 64)
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"message {name} is not JSON: {bounded(body, MAX_QUOTED)}") from exc
    if not isinstance(data, dict):
        raise BadRequest(f"message {name} is not an object: {bounded(body, MAX_QUOTED)}")
    if "detail-type" in data:
        if data.get("source") != S3_SOURCE or data.get("detail-type") != OBJECT_CREATED:
            raise BadRequest(f"message {name} is not an S3 object-created event: {bounded(body, MAX_QUOTED)}")
        detail = data.get("detail")
        s3_object = detail.get("object") if isinstance(detail, dict) else None
        key = s3_object.get("key") if isinstance(s3_object, dict) else None
        if not isinstance(key, str):
            raise BadRequest(f"message {name} has no object key: {bounded(body, MAX_QUOTED)}")
        try:
            run_id = parse_manifest_key(key)
        except ValueError as exc:
            raise BadRequest(f"message {name}: not a manifest key: {bounded(key, MAX_QUOTED)}") from exc
        return Request(message_id, "landed", run_id=run_id)
    try:
        request = TransformRequest.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(f"message {name} is no transform request: {bounded(body, MAX_QUOTED)}") from exc
    return Request(message_id, request.kind, full_refresh=request.full_refresh)


def parse_records(event: dict[str, Any], context: Any = None) -> tuple[list[Request], dict[str, str]]:
    """The SQS batch's requests, and the ids of the refused messages with their errors."""
    if not isinstance(event.get("Records"), list):
        raise BadRequest("the event has no SQS Records")
    requests: list[Request] = []
    refused: dict[str, str] = {}

    def record_handler(record: SQSRecord) -> None:
        try:
            requests.append(parse_body(record.message_id, str(record.get("body", ""))))
        except Exception as exc:  # BadRequest, or a shape parse_body missed: refused either way, never dropped
            name = bounded(record.message_id, 64)
            error = str(exc) if isinstance(exc, BadRequest) else f"message {name} not parsed: {type(exc).__name__}"
            refused[record.message_id] = error
            logger.warning("refused message", extra={"message_id": name, "error": error})
            raise

    # every message refused is still a partial response (each is retried alone, then in the DLQ)
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    return requests, refused
