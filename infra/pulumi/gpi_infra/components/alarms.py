"""CloudWatch alarms of the pipeline, all notifying one SNS topic.

Metric names are the ones the services emit with AWS Lambda Powertools (`f1common.metrics`: EMF, namespace
`f1common.names.METRICS_NAMESPACE`, dimension `service`): the scheduler reports `SessionsFailed` and
`SessionsOverdue` on every (hourly) run, the ingestion reports `SessionsIngested` / `RowsLanded`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from f1common import metrics as metric
from f1common.names import METRICS_NAMESPACE, SERVICE_INGESTION, SERVICE_SCHEDULER


@dataclass(frozen=True)
class MetricAlarm:
    """An alarm on one of the services' own metrics (f1common.metrics), dimension `service`."""

    key: str
    description: str
    metric: str
    service: str
    threshold: float = 0
    comparison: str = "GreaterThanThreshold"
    statistic: str = "Maximum"
    period: int = 3600
    evaluation_periods: int = 1
    treat_missing_data: str = "notBreaching"

    @property
    def metrics(self) -> frozenset[str]:
        return frozenset({self.metric})


@dataclass(frozen=True)
class MathAlarm:
    """An alarm on an expression over several of the services' metrics (CloudWatch metric math): it fires when
    `expression` (over the `inputs`' ids, each the metric's `statistic` per `period`) is above 0 for
    `evaluation_periods` periods in a row."""

    key: str
    description: str
    expression: str
    inputs: Mapping[str, tuple[str, str]]  # id -> (metric, service)
    statistic: str = "Sum"
    period: int = 3600
    evaluation_periods: int = 1

    @property
    def metrics(self) -> frozenset[str]:
        return frozenset(metric_name for metric_name, _ in self.inputs.values())


@dataclass(frozen=True)
class AlarmsArgs:
    prefix: str
    function_names: Mapping[str, pulumi.Input[str]]
    dead_letter_queue_names: Mapping[str, pulumi.Input[str]]
    overdue_hours: int = 6
    alarm_email: str | None = None
    extra_topics: Sequence[pulumi.Input[str]] = field(default_factory=tuple)
    metric_alarms: Sequence[MetricAlarm | MathAlarm] = field(default_factory=tuple)


class Alarms(pulumi.ComponentResource):
    topic: aws.sns.Topic
    alarms: dict[str, aws.cloudwatch.MetricAlarm]

    def __init__(self, name: str, args: AlarmsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpi:aws:Alarms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.topic = aws.sns.Topic(
            f"{name}-topic", name=f"{args.prefix}-alarms", kms_master_key_id="alias/aws/sns", opts=child
        )
        if args.alarm_email:
            aws.sns.TopicSubscription(
                f"{name}-email", topic=self.topic.arn, protocol="email", endpoint=args.alarm_email, opts=child
            )
        actions = [self.topic.arn, *args.extra_topics]
        self.alarms = {}

        def alarm(key: str, description: str, **kwargs: object) -> None:
            """An alarm that fires above 0 in one period, ignoring missing data, unless `kwargs` say otherwise."""
            settings: dict[str, object] = {
                "evaluation_periods": 1,
                "threshold": 0,
                "comparison_operator": "GreaterThanThreshold",
                "treat_missing_data": "notBreaching",
                **kwargs,
            }
            self.alarms[key] = aws.cloudwatch.MetricAlarm(
                f"{name}-{key}",
                name=f"{args.prefix}-{key}",
                alarm_description=description,
                alarm_actions=actions,
                ok_actions=actions,
                opts=child,
                **settings,  # type: ignore[arg-type]
            )

        def metric_alarm(
            key: str,
            description: str,
            namespace: str,
            metric_name: str,
            dimensions: Mapping[str, pulumi.Input[str]],
            statistic: str,
            period: int,
            **kwargs: object,
        ) -> None:
            """An alarm on one metric: its `statistic` over `period` seconds."""
            alarm(
                key,
                description,
                namespace=namespace,
                metric_name=metric_name,
                dimensions=dimensions,
                statistic=statistic,
                period=period,
                **kwargs,
            )

        for service, function_name in args.function_names.items():
            metric_alarm(
                f"{service}-errors",
                f"The {service} Lambda raised errors",
                "AWS/Lambda",
                "Errors",
                {"FunctionName": function_name},
                "Sum",
                300,
            )
        for key, queue_name in args.dead_letter_queue_names.items():
            metric_alarm(
                f"{key}-depth",
                f"Messages are waiting in the dead-letter queue {key}",
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                {"QueueName": queue_name},
                "Maximum",
                300,
            )
        # Any count within an hour alarms (hourly runs; missing data is fine).
        metric_alarm(
            "sessions-failed",
            "The scheduler gave up on a session (retries exhausted): it is FAILED in the calendar",
            METRICS_NAMESPACE,
            metric.SESSIONS_FAILED,
            {"service": SERVICE_SCHEDULER},
            "Sum",
            3600,
        )
        metric_alarm(
            "orphan-files",
            "An ingestion run died or lost its claim before its manifest: its files are orphans "
            "(listed in markers/orphans/<run_id>.json; they expire by the landing bucket's lifecycle rule)",
            METRICS_NAMESPACE,
            metric.ORPHAN_FILES,
            {"service": SERVICE_INGESTION},
            "Sum",
            3600,
        )
        # The scheduler runs hourly and reports how many sessions are past their ingestion time without an
        # outcome. Overdue sessions for `overdue_hours` consecutive runs means no ingestion within that many
        # hours of the session's end; missing data means the scheduler itself stopped running, so it breaches.
        metric_alarm(
            "ingestion-overdue",
            f"No ingestion outcome within {args.overdue_hours} h of a session end (or the hourly scheduler stopped)",
            METRICS_NAMESPACE,
            metric.SESSIONS_OVERDUE,
            {"service": SERVICE_SCHEDULER},
            "Maximum",
            3600,
            evaluation_periods=args.overdue_hours,
            datapoints_to_alarm=args.overdue_hours,
            treat_missing_data="breaching",
        )
        for spec in args.metric_alarms:
            if isinstance(spec, MathAlarm):
                alarm(
                    spec.key,
                    spec.description,
                    metric_queries=[
                        aws.cloudwatch.MetricAlarmMetricQueryArgs(
                            id="alarm", expression=spec.expression, label=spec.key, return_data=True
                        ),
                        *(
                            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                                id=query_id,
                                metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                                    namespace=METRICS_NAMESPACE,
                                    metric_name=metric_name,
                                    dimensions={"service": service},
                                    stat=spec.statistic,
                                    period=spec.period,
                                ),
                            )
                            for query_id, (metric_name, service) in spec.inputs.items()
                        ),
                    ],
                    evaluation_periods=spec.evaluation_periods,
                    datapoints_to_alarm=spec.evaluation_periods,
                )
                continue
            metric_alarm(
                spec.key,
                spec.description,
                METRICS_NAMESPACE,
                spec.metric,
                {"service": spec.service},
                spec.statistic,
                spec.period,
                evaluation_periods=spec.evaluation_periods,
                datapoints_to_alarm=spec.evaluation_periods,
                threshold=spec.threshold,
                comparison_operator=spec.comparison,
                treat_missing_data=spec.treat_missing_data,
            )
        self.register_outputs({"topic": self.topic.arn})
