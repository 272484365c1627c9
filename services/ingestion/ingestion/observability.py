"""The ingestion service's logs and metrics (see :mod:`f1common.observability`).

Inner modules log through a child of the handler's Logger. Counters are added to the service's Metrics and
flushed with the invocation (``@metrics.log_metrics`` on the handler); rows per dataset and durations are
emitted at once, each as its own EMF blob.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from f1common import metrics as metric
from f1common.names import SERVICE_INGESTION
from f1common.observability import child_logger, emit_metric, service_metrics

logger = child_logger(SERVICE_INGESTION)
metrics = service_metrics(SERVICE_INGESTION)


def count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def emit_seconds(name: str, seconds: float) -> None:
    emit_metric(SERVICE_INGESTION, name, seconds, MetricUnit.Seconds)


def emit_rows(rows: dict[str, int], **dimensions: str) -> None:
    for dataset, rows_landed in rows.items():
        emit_metric(SERVICE_INGESTION, metric.ROWS_LANDED, rows_landed, MetricUnit.Count, dataset=dataset, **dimensions)
