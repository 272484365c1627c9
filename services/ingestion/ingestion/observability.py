"""Structured JSON logs and CloudWatch EMF metrics of the ingestion service (AWS Lambda Powertools)."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from f1common import metrics as metric
from f1common.names import METRICS_NAMESPACE, SERVICE_INGESTION

logger = Logger(service=SERVICE_INGESTION)


def emit_metric(name: str, value: float, unit: MetricUnit = MetricUnit.Count, **dimensions: str) -> None:
    """Emits one EMF metric (a JSON line on stdout) with the service and the given dimensions.

    Honours `POWERTOOLS_METRICS_DISABLED` like powertools' Metrics (its `single_metric` does not).
    """
    if os.environ.get("POWERTOOLS_METRICS_DISABLED", "").strip().lower() in ("1", "true"):
        return
    with single_metric(
        name=name,
        unit=unit,
        value=value,
        namespace=METRICS_NAMESPACE,
        default_dimensions={"service": SERVICE_INGESTION, **dimensions},
    ):
        pass


def emit_rows(rows: dict[str, int], **dimensions: str) -> None:
    for dataset, count in rows.items():
        emit_metric(metric.ROWS_LANDED, count, MetricUnit.Count, dataset=dataset, **dimensions)
