"""Structured logs and EMF metrics, the same in every service (AWS Lambda Powertools).

- A handler module makes its service's :func:`service_logger` and :func:`service_metrics` (flushed by
  ``@metrics.log_metrics``); every inner module logs through a :func:`child_logger` of the same service,
  which writes through the handler module's Logger.
- f1common's own log lines (stdlib loggers under ``f1common``) are routed through the service's Logger too,
  so that they reach CloudWatch as the same JSON lines.
- :func:`emit_metric` writes one metric at once as its own EMF blob (for metrics with their own
  dimensions, such as rows per dataset, or a run's duration).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from f1common.errors import QUOTE_LIMIT, bounded
from f1common.metrics import NAMESPACE

LIBRARY_LOGGER = "f1common"


def service_logger(service: str) -> Logger:
    """The service's Logger (of its handler module), with f1common's log lines routed through it."""
    logger = Logger(service=service)
    logging.getLogger(LIBRARY_LOGGER)  # registered, so that the Logger's configuration is copied to it
    copy_config_to_registered_loggers(source_logger=logger, include={LIBRARY_LOGGER})
    return logger


EVENT_KEYS_LOGGED = 20  # keys of an event named in its log summary


def event_summary(event: Any, limit: int = QUOTE_LIMIT) -> dict[str, Any]:
    """What a handler logs of its event: its type, size, first keys and a bounded prefix, never the payload."""
    summary: dict[str, Any] = {"type": type(event).__name__, "size": len(repr(event))}
    if isinstance(event, dict):
        summary["keys"] = [bounded(str(k), 40) for k in list(event)[:EVENT_KEYS_LOGGED]]
    summary["prefix"] = bounded(event, limit)
    return summary


def child_logger(service: str) -> Logger:
    """The Logger of an inner module: writes through the service's Logger (``Logger(child=True)``)."""
    return Logger(service=service, child=True)


def service_metrics(service: str) -> Metrics:
    return Metrics(namespace=NAMESPACE, service=service)


def add_counts(metrics: Metrics, counts: Mapping[str, float]) -> None:
    """Adds each `counts` entry as a Count metric, flushed with the invocation (``@metrics.log_metrics``)."""
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def emit_metric(service: str, name: str, value: float, unit: MetricUnit = MetricUnit.Count, **dimensions: str) -> None:
    """Emits one EMF metric now (a JSON line on stdout) with the service and the given dimensions.

    Honours `POWERTOOLS_METRICS_DISABLED` like powertools' Metrics (its `single_metric` does not).
    """
    if os.environ.get("POWERTOOLS_METRICS_DISABLED", "").strip().lower() in ("1", "true"):
        return
    with single_metric(
        name=name,
        unit=unit,
        value=value,
        namespace=NAMESPACE,
        default_dimensions={"service": service, **dimensions},
    ):
        pass
