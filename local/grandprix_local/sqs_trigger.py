"""The SQS -> Lambda trigger of the loader, emulated: the embedded stack's queue drained into the loader.

In the cloud an event source mapping polls the loader queue and invokes the loader Lambda with batches of up
to ten messages, deleting those not reported in ``batchItemFailures``. Here the same batch function
(:func:`loader.consumer.load_batch`, what the Lambda handler runs) gets batches built from
``receive_message``; failed messages stay on the queue (visible again after their visibility timeout).
"""

from __future__ import annotations

from typing import Any

from loader.consumer import load_batch
from loader.loading import LoadReport, StagingWarehouse


def sqs_event(messages: list[dict[str, Any]], queue_arn: str = "") -> dict[str, Any]:
    """The Lambda event an SQS event source mapping delivers for received messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
            }
            for m in messages
        ]
    }


def drain_queue(
    sqs: Any,
    queue_url: str,
    *,
    s3: Any,
    warehouse: StagingWarehouse,
    wait_seconds: int = 0,
    max_batches: int | None = None,
) -> LoadReport:
    """Delivers the queue's messages to the loader batch by batch until the queue is empty."""
    report = LoadReport()
    batches = 0
    while max_batches is None or batches < max_batches:
        response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds)
        messages: list[dict[str, Any]] = response.get("Messages", [])
        if not messages:
            break
        batches += 1
        result = load_batch(sqs_event(messages), s3=s3, warehouse=warehouse)
        report.extend(result.report)
        failed = set(result.failed)
        done = [{"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in messages
                if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=done)
    return report
