"""Consuming S3 event notifications from SQS: a Lambda batch, or draining the queue of the local stack."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from f1common import metrics as metric
from f1common.names import SERVICE_LOADER
from loader.loading import LoadReport, Outcome, Warehouse, load_keys
from loader.notifications import BadMessage, s3_objects

logger = Logger(service=SERVICE_LOADER, child=True)

_METRICS = {
    Outcome.LOADED: metric.FILES_LOADED,
    Outcome.SKIPPED: metric.FILES_SKIPPED,
    Outcome.PENDING: metric.FILES_PENDING,
    Outcome.QUARANTINED: metric.FILES_QUARANTINED,
}


def process_body(body: str | dict[str, Any], *, s3: Any, warehouse: Warehouse) -> LoadReport:
    """Loads what one SQS message (an S3 event notification) announces; raises BadMessage for other bodies."""
    report = LoadReport()
    refs = s3_objects(body)
    for bucket in dict.fromkeys(r.bucket for r in refs):
        keys = [r.key for r in refs if r.bucket == bucket]
        report.extend(load_keys(keys, s3=s3, bucket=bucket, warehouse=warehouse))
    return report


def record_metrics(report: LoadReport, metrics: Metrics) -> None:
    for outcome, name in _METRICS.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=report.counts[outcome.value])
    metrics.add_metric(name=metric.ROWS_LOADED, unit=MetricUnit.Count, value=report.rows_loaded)


def process_sqs_batch(
    event: dict[str, Any], *, s3: Any, warehouse: Warehouse, metrics: Metrics | None = None
) -> dict[str, Any]:
    """Handles an SQS batch event; failed messages are returned as `batchItemFailures` to be retried.

    A body that is not an S3 notification is logged and dropped (retrying cannot fix it); a file that
    cannot be loaded is quarantined, which is success for the message. Only unexpected errors (S3 or
    warehouse unavailable) fail the message.
    """
    failures: list[dict[str, str]] = []
    report = LoadReport()
    for record in event.get("Records", []):
        message_id = record.get("messageId", "")
        try:
            report.extend(process_body(record.get("body", ""), s3=s3, warehouse=warehouse))
        except BadMessage as exc:
            logger.error("dropping SQS message that is not an S3 notification", extra={"message_id": message_id,
                                                                                         "error": str(exc)})
        except Exception:
            logger.exception("SQS message failed; it will be retried", extra={"message_id": message_id})
            failures.append({"itemIdentifier": message_id})
    if metrics is not None:
        record_metrics(report, metrics)
    logger.info("batch done", extra={"counts": report.counts, "rows": report.rows_loaded, "failed": len(failures)})
    return {"batchItemFailures": failures}


def drain_queue(
    sqs: Any,
    queue_url: str,
    *,
    s3: Any,
    warehouse: Warehouse,
    wait_seconds: int = 0,
    max_batches: int | None = None,
) -> LoadReport:
    """Receives, processes and deletes messages until the queue is empty (the local stack's loader).

    A message whose processing raises is left on the queue (visible again after its visibility timeout).
    """
    report = LoadReport()
    batches = 0
    while max_batches is None or batches < max_batches:
        response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds)
        messages: Iterable[dict[str, Any]] = response.get("Messages", [])
        if not messages:
            break
        batches += 1
        done = []
        for message in messages:
            try:
                report.extend(process_body(message["Body"], s3=s3, warehouse=warehouse))
            except BadMessage as exc:
                logger.error("dropping SQS message that is not an S3 notification", extra={"error": str(exc)})
            except Exception:
                logger.exception("SQS message failed; left on the queue", extra={"message_id": message["MessageId"]})
                continue
            done.append({"Id": message["MessageId"], "ReceiptHandle": message["ReceiptHandle"]})
        if done:
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=done)
    return report
