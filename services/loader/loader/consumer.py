"""An SQS batch of S3 event notifications (Powertools' BatchProcessor): each message loads what it announces.

A body that is not an S3 notification is logged, counted and dropped (retrying cannot fix it), and so is each
malformed record of a notification (the valid records beside it load); a file that cannot be loaded is
quarantined, and a key off the landing layout is recorded and counted as ignored, which is success for the
message. Only unexpected errors (S3 or warehouse unavailable) fail a message, after its other files were
processed; it is reported in ``batchItemFailures`` and delivered again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from f1common import metrics as metric
from f1common.errors import bounded
from f1common.manifest import Manifest
from f1common.names import SERVICE_LOADER
from f1common.observability import add_counts, child_logger
from loader.loading import LoadIncomplete, LoadReport, Outcome, StagingWarehouse, load_keys
from loader.notifications import BadMessage, parse_notification

logger = child_logger(SERVICE_LOADER)

_METRICS = {
    Outcome.LOADED: metric.FILES_LOADED,
    Outcome.SKIPPED: metric.FILES_SKIPPED,
    Outcome.PENDING: metric.FILES_PENDING,
    Outcome.QUARANTINED: metric.FILES_QUARANTINED,
    Outcome.IGNORED: metric.FILES_IGNORED,
}


def process_body(
    body: str | dict[str, Any],
    *,
    s3: Any,
    bucket: str,
    warehouse: StagingWarehouse,
    manifests: dict[str, Manifest] | None = None,
) -> LoadReport:
    """Loads what one SQS message (an S3 event notification) announces in the landing `bucket` (a record naming
    another bucket is malformed: it is counted and logged, never read); `manifests` (run id -> manifest) caches
    the manifests found beyond this message (one per batch, :func:`load_batch`).

    Raises BadMessage for other bodies, and LoadIncomplete (with the report) when some files failed unexpectedly.
    """
    notification = parse_notification(body, bucket)
    report = LoadReport(malformed_records=len(notification.malformed))
    for problem in notification.malformed:
        logger.error("malformed S3 event record skipped", extra={"error": problem})
    keys = [r.key for r in notification.objects]
    try:
        report.extend(load_keys(keys, s3=s3, bucket=bucket, warehouse=warehouse, manifests=manifests))
    except LoadIncomplete as exc:
        report.extend(exc.report)
        raise LoadIncomplete(report, exc.failed) from None
    return report


def record_metrics(report: LoadReport, metrics: Metrics) -> None:
    add_counts(metrics, {name: report.counts[outcome.value] for outcome, name in _METRICS.items()})
    add_counts(metrics, {metric.ROWS_LOADED: report.rows_loaded, metric.RECORDS_MALFORMED: report.malformed_records})


@dataclass
class BatchResult:
    """What a batch loaded, and the Lambda's partial-batch response (`batchItemFailures`)."""

    report: LoadReport = field(default_factory=LoadReport)
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        return [f["itemIdentifier"] for f in self.response.get("batchItemFailures", [])]


def load_batch(
    event: dict[str, Any], *, s3: Any, bucket: str, warehouse: StagingWarehouse, context: Any = None
) -> BatchResult:
    """Processes an SQS batch event message by message (the files of the landing `bucket`); failed messages are
    returned to be retried."""
    result = BatchResult()
    manifests: dict[str, Manifest] = {}  # found once for the whole batch: a run's files arrive together

    def record_handler(record: SQSRecord) -> None:
        try:
            result.report.extend(
                process_body(record.body, s3=s3, bucket=bucket, warehouse=warehouse, manifests=manifests)
            )
        except BadMessage as exc:
            result.report.malformed_records += 1
            logger.error(
                "dropping SQS message that is not an S3 notification",
                extra={"message_id": record.message_id, "error": bounded(str(exc))},
            )
        except LoadIncomplete as exc:
            result.report.extend(exc.report)
            logger.error(
                "SQS message failed in part; it will be retried",
                extra={
                    "message_id": record.message_id,
                    "failed": len(exc.failed),
                    "first": bounded(list(exc.failed.items())[:3], 600),
                },
            )
            raise
        except Exception:
            logger.exception("SQS message failed; it will be retried", extra={"message_id": record.message_id})
            raise

    # Every message failing is still a partial response (each is retried alone), not a failed invocation.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    result.response = dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )
    return result


def process_sqs_batch(
    event: dict[str, Any],
    *,
    s3: Any,
    bucket: str,
    warehouse: StagingWarehouse,
    metrics: Metrics | None = None,
    context: Any = None,
) -> dict[str, Any]:
    """The loader Lambda's work: :func:`load_batch`, its metrics and a summary log; returns the batch response."""
    result = load_batch(event, s3=s3, bucket=bucket, warehouse=warehouse, context=context)
    if metrics is not None:
        record_metrics(result.report, metrics)
    logger.info(
        "batch done",
        extra={"counts": result.report.counts, "rows": result.report.rows_loaded, "failed": len(result.failed)},
    )
    return result.response
