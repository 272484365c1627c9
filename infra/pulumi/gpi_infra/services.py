"""The service deployments of the AWS stack, one ComponentResource per service.

Every service has the same shape (`LambdaService`): its code (the Pants zip, or an image in its own ECR
repository built from that zip) and its function with a least-privilege role; each subclass adds what only
that service has (triggers, queues, the schedules it is invoked by, the alarms on its own metrics). A service's
resources are all children of its component, so `pulumi up --target '<service_target(...)>'` deploys that
service alone (see .github/workflows/). A new service is a subclass here, a `service_lambda` in its BUILD and
its defaults in `config._DEFAULT_FUNCTIONS` (the transformer, the fourth, was added so).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pulumi
import pulumi_aws as aws

from f1common import metrics as metric
from f1common.layout import MANIFEST_PREFIX
from f1common.names import METRICS_NAMESPACE, SERVICE_LOADER, SERVICE_TRANSFORMER
from f1common.transform import BATCH_SIZE, SCHEDULED, TRANSFORMER_STATE_PREFIX, manifest_landed_pattern
from gpi_infra import iam
from gpi_infra.components.alarms import MathAlarm, MetricAlarm
from gpi_infra.components.queues import MessageQueue, MessageQueueArgs
from gpi_infra.components.role import role_with_policy
from gpi_infra.components.scheduling import (
    SCHEDULER_SERVICE,
    IngestionSchedules,
    IngestionSchedulesArgs,
    RecurringTrigger,
    RecurringTriggerArgs,
)
from gpi_infra.components.service_code import ContainerImage, ContainerImageArgs, FunctionCode, zip_code
from gpi_infra.components.service_function import ServiceFunction, ServiceFunctionArgs
from gpi_infra.config import AWS_PROJECT, AwsStackConfig, FunctionSettings
from gpi_infra.packages import ServicePackage


def function_name(cfg: AwsStackConfig, service: str) -> str:
    """`gpi-<stage>-<service>`: the function's name (f1common.names), also its image repository's."""
    return str(getattr(cfg.names, f"{service}_function"))


def arn_suffix(arn: pulumi.Input[str], suffix: str) -> pulumi.Output[str]:
    return pulumi.Output.from_input(arn).apply(lambda value: f"{value}{suffix}")


@dataclass(frozen=True)
class Platform:
    """The shared resources a service uses (created once per stage by `aws_program`)."""

    cfg: AwsStackConfig
    environment: Mapping[str, pulumi.Input[str]]  # given to every function
    table_arn: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    dlq_arn: pulumi.Input[str]  # failed asynchronous invocations and schedule deliveries

    def put_metrics(self) -> dict[str, Any]:
        return iam.statement(
            ["cloudwatch:PutMetricData"],
            ["*"],
            sid="OwnMetricsNamespace",
            condition={"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}},
        )

    def trigger(
        self,
        name: str,
        schedule_name: str,
        expression: str,
        function: ServiceFunction,
        event: Mapping[str, Any],
        description: str,
        parent: pulumi.Resource,
    ) -> RecurringTrigger:
        return RecurringTrigger(
            name,
            RecurringTriggerArgs(
                schedule_name=schedule_name,
                group_name="default",
                expression=expression,
                function_arn=function.function.arn,
                dlq_arn=self.dlq_arn,
                event=event,
                description=description,
                retry_attempts=self.cfg.schedule_retry_attempts,
                max_event_age_seconds=self.cfg.schedule_max_event_age_seconds,
            ),
            opts=pulumi.ResourceOptions(parent=parent),
        )

    def bootstrap(
        self, name: str, function: ServiceFunction, event: Mapping[str, Any], parent: pulumi.Resource
    ) -> aws.lambda_.Invocation:
        """Invokes `function` with `event` when the stack is first deployed, and again whenever `event` changes
        (the deploy fails, naming the error, if the invocation does: fix it and run `pulumi up` again)."""
        body = json.dumps(event, sort_keys=True)
        return aws.lambda_.Invocation(
            name,
            function_name=function.function.name,
            input=body,
            triggers={"event": body},
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[function.function]),
        )


@dataclass(frozen=True)
class ServiceArgs:
    service: str
    package: ServicePackage
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)


Statements = Sequence[Mapping[str, Any]]


class LambdaService(pulumi.ComponentResource):
    """One service: its code and its function (`self.function`); subclasses add the rest, and list the alarms
    on their own metrics in `alarms` (the stack's `Alarms` declares them with the others)."""

    TYPE: ClassVar[str]
    RESERVED_CONCURRENCY: ClassVar[int | None] = None  # None: the account's unreserved pool
    alarms: tuple[MetricAlarm | MathAlarm, ...] = ()

    def __init__(
        self,
        platform: Platform,
        args: ServiceArgs,
        statements: Statements | Callable[[], Statements],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`statements`: the function's grants, or a callable returning them once the component exists (grants
        on resources the service owns, declared as its children before its function)."""
        super().__init__(self.TYPE, args.service, None, opts)
        self.platform, self.service = platform, args.service
        self.settings: FunctionSettings = platform.cfg.functions[args.service]
        self.image: ContainerImage | None = None
        if args.package.package_type == "image":
            self.image = ContainerImage(
                args.service,
                ContainerImageArgs(
                    repository_name=function_name(platform.cfg, args.service),
                    package=args.package,
                    base_image=platform.cfg.lambda_base_image,
                    keep_images=platform.cfg.image_retention_count,
                    force_delete=platform.cfg.stage != "prod",
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self._package = args.package
        self.environment = {**platform.environment, **args.environment}
        grants = statements() if callable(statements) else statements
        self.function = self.add_function(args.service, function_name(platform.cfg, args.service), grants)

    def code(self, handler: str) -> FunctionCode:
        return self.image.code(handler) if self.image is not None else zip_code(self._package, handler)

    def add_function(
        self, name: str, function_name: str, statements: Sequence[Mapping[str, Any]], handler: str | None = None
    ) -> ServiceFunction:
        """A function of this service's code (`handler`: another entry point in the same package)."""
        settings = self.settings if handler is None else self.settings.model_copy(update={"handler": handler})
        return ServiceFunction(
            name,
            ServiceFunctionArgs(
                service=self.service,
                function_name=function_name,
                settings=settings,
                code=self.code(settings.handler),
                log_retention_days=self.platform.cfg.log_retention_days,
                environment=self.environment,
                statements=[*statements, self.platform.put_metrics()],
                reserved_concurrency=self.RESERVED_CONCURRENCY if handler is None else None,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def done(self) -> None:
        outputs: dict[str, Any] = {"function": self.function.function.name}
        if self.image is not None:
            outputs["image"] = self.image.image_uri
        self.register_outputs(outputs)


def service_target(service_type: str, stack: str = "*") -> str:
    """The `pulumi up --target` glob of one service's component and everything under it."""
    return f"urn:pulumi:{stack}::{AWS_PROJECT}::{service_type}**"


class IngestionService(LambdaService):
    """The ingestion function, invoked asynchronously by one-time schedules of its own schedule group."""

    TYPE = "gpi:aws:IngestionService"

    def __init__(self, platform: Platform, args: ServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        bucket, table, dlq = platform.bucket_arn, platform.table_arn, platform.dlq_arn
        super().__init__(
            platform,
            args,
            [
                iam.statement(
                    ["s3:GetObject", "s3:PutObject", "s3:PutObjectTagging"],  # tags: publication state (orphans)
                    [arn_suffix(bucket, "/*")],
                    sid="LandingObjects",
                ),
                iam.statement(["s3:ListBucket"], [bucket], sid="LandingList"),
                iam.statement(
                    ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                    [table],
                    sid="Calendar",
                ),
                iam.statement(["sqs:SendMessage"], [dlq], sid="FailedInvocations"),
            ],
            opts,
        )
        names = platform.cfg.names
        # Schedules invoke the ingestion asynchronously: an invocation that still fails after one retry lands
        # in the DLQ (whose depth alarms). Retrying is safe: the ingestion is idempotent per session and attempt.
        aws.lambda_.FunctionEventInvokeConfig(
            f"{self.service}-async",
            function_name=self.function.function.name,
            maximum_retry_attempts=1,
            maximum_event_age_in_seconds=3600,
            destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(destination=dlq)
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.function]),
        )
        self.schedules = IngestionSchedules(
            f"{self.service}-schedules",
            IngestionSchedulesArgs(
                group_name=names.schedule_group,
                role_name=names.ingestion_invoke_role,
                ingestion_function_arn=self.function.function.arn,
                dlq_arn=dlq,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The Ergast history: backfilled from the published dump when the stack is first deployed, then daily
        # (new rounds arrive as a new dump version; an unchanged dump lands nothing).
        backfill = {"kind": "ergast_backfill"}
        platform.trigger(
            "ergast-backfill-trigger",
            f"{names.ingestion_function}-daily-ergast",
            platform.cfg.ergast_backfill_expression,
            self.function,
            backfill,
            "Lands the Ergast history from the published dump when it changed",
            self,
        )
        self.bootstrap = platform.bootstrap("ergast-bootstrap", self.function, backfill, self)
        self.done()


class SchedulerService(LambdaService):
    """The scheduler: hourly planning and the daily calendar sync, creating the ingestion's schedules."""

    TYPE = "gpi:aws:SchedulerService"

    def __init__(
        self,
        platform: Platform,
        args: ServiceArgs,
        ingestion: IngestionService,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        cfg, schedules = platform.cfg, ingestion.schedules
        args = ServiceArgs(
            args.service,
            args.package,
            {
                **args.environment,
                "GPI_INGESTION_FUNCTION_ARN": ingestion.function.function.arn,
                "GPI_SCHEDULER_ROLE_ARN": schedules.role.arn,
                "GPI_INGESTION_DLQ_ARN": platform.dlq_arn,
            },
        )
        super().__init__(
            platform,
            args,
            [
                iam.statement(
                    [
                        "dynamodb:GetItem",
                        "dynamodb:PutItem",
                        "dynamodb:UpdateItem",
                        "dynamodb:DeleteItem",
                        "dynamodb:Scan",
                    ],
                    [platform.table_arn],
                    sid="Calendar",
                ),
                iam.statement(
                    ["scheduler:CreateSchedule", "scheduler:GetSchedule", "scheduler:DeleteSchedule"],
                    [schedules.schedules_arn],
                    sid="IngestionSchedules",
                ),
                iam.statement(["scheduler:ListSchedules"], ["*"], sid="ListSchedules"),
                iam.statement(
                    ["iam:PassRole"],
                    [schedules.role.arn],
                    sid="PassInvokeRole",
                    condition={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
                ),
            ],
            opts,
        )
        function_name = cfg.names.scheduler_function
        self.trigger = platform.trigger(
            f"{self.service}-trigger",
            f"{function_name}-hourly",
            cfg.scheduler_trigger_expression,
            self.function,
            {"action": "schedule"},
            "Plans ingestion schedules for sessions that are due, and their retries",
            self,
        )
        # The configured seasons and the current one: in the calendar from the first deploy (and whenever the
        # list changes), then synced daily; each sync also lands the seasons' schedule datasets.
        sync = {"action": "sync", "seasons": cfg.calendar_seasons, "include_current": True}
        platform.trigger(
            "calendar-sync-trigger",
            f"{function_name}-daily-sync",
            cfg.calendar_sync_expression,
            self.function,
            sync,
            "Syncs the configured and the current season's race calendar with the official schedule",
            self,
        )
        self.bootstrap = platform.bootstrap("calendar-bootstrap", self.function, sync, self)
        self.done()


# Every metric of the loader (f1common.metrics.LOADER_METRICS) has an alarm: the hourly load-health check's
# findings (loader.handler.health_handler) and the consumer's counts per batch. A count that is healthy on its own
# (files loaded, skipped, pending; rows loaded) alarms where it shows a stall, compared with another count.
_LOADER_INPUTS = {"loaded": (metric.FILES_LOADED, SERVICE_LOADER)}
LOAD_HEALTH_ALARMS: tuple[MetricAlarm | MathAlarm, ...] = (
    MetricAlarm(
        "load-files-missing",
        "A manifest lists files that are not in staging past the grace period",
        metric.HEALTH_FILES_MISSING,
        SERVICE_LOADER,
    ),
    MetricAlarm(
        "load-files-failed",
        "COPY_HISTORY reports failed loads of landed files",
        metric.HEALTH_FILES_FAILED,
        SERVICE_LOADER,
    ),
    MetricAlarm(
        "load-files-in-flight",
        "Files were in flight (landed, not loaded yet) at three hourly checks in a row",
        metric.HEALTH_FILES_IN_FLIGHT,
        SERVICE_LOADER,
        evaluation_periods=3,
    ),
    # Every check reports HealthFilesLoaded (0 or more): no sample for two hours means the check stopped.
    MetricAlarm(
        "load-health-stopped",
        "The hourly load-health check has not reported for two hours",
        metric.HEALTH_FILES_LOADED,
        SERVICE_LOADER,
        threshold=1,
        comparison="LessThanThreshold",
        statistic="SampleCount",
        evaluation_periods=2,
        treat_missing_data="breaching",
    ),
    MetricAlarm(
        "pipes-not-running",
        "A Snowpipe pipe is not RUNNING (paused, stalled or broken)",
        metric.PIPES_NOT_RUNNING,
        SERVICE_LOADER,
    ),
    MetricAlarm(
        "pipe-backlog",
        "Snowpipe has had files pending for three hourly checks in a row",
        metric.PIPE_PENDING_FILES,
        SERVICE_LOADER,
        evaluation_periods=3,
    ),
    MetricAlarm(
        "files-quarantined",
        "The loader refused (quarantined) a landed file",
        metric.FILES_QUARANTINED,
        SERVICE_LOADER,
        statistic="Sum",
        period=300,
    ),
    MetricAlarm(
        "files-ignored",
        "A notification named a key off the landing layout (recorded in load_quarantine)",
        metric.FILES_IGNORED,
        SERVICE_LOADER,
        statistic="Sum",
        period=300,
    ),
    MetricAlarm(
        "notifications-malformed",
        "Notification records or bodies named no object",
        metric.RECORDS_MALFORMED,
        SERVICE_LOADER,
        statistic="Sum",
        period=300,
    ),
    MathAlarm(
        "rows-not-loaded",
        "The loader loaded files but not one row within an hour (every landed run has rows)",
        "IF(FILL(loaded, 0) > 0 AND FILL(rows, 0) == 0, 1, 0)",
        {**_LOADER_INPUTS, "rows": (metric.ROWS_LOADED, SERVICE_LOADER)},
    ),
    MathAlarm(
        "files-waiting-for-manifests",
        "Data files kept waiting for their manifest and nothing loaded, three hours in a row",
        "IF(FILL(pending, 0) > 0 AND FILL(loaded, 0) == 0, 1, 0)",
        {**_LOADER_INPUTS, "pending": (metric.FILES_PENDING, SERVICE_LOADER)},
        evaluation_periods=3,
    ),
    MathAlarm(
        "notifications-redelivered",
        "The loader received only files it had already loaded, three hours in a row (a redelivery loop)",
        "IF(FILL(skipped, 0) > 0 AND FILL(loaded, 0) == 0, 1, 0)",
        {**_LOADER_INPUTS, "skipped": (metric.FILES_SKIPPED, SERVICE_LOADER)},
        evaluation_periods=3,
    ),
    MetricAlarm(
        "calendar-export-empty",
        "The health check exported no race-calendar session to the warehouse",
        metric.CALENDAR_SESSIONS_EXPORTED,
        SERVICE_LOADER,
        threshold=1,
        comparison="LessThanThreshold",
        statistic="Minimum",
    ),
    MetricAlarm(
        "calendar-items-invalid",
        "Race calendar items failed validation in the warehouse export",
        metric.CALENDAR_ITEMS_INVALID,
        SERVICE_LOADER,
    ),
)


class LoaderService(LambdaService):
    """The loader: SQS batches of S3 notifications into Snowflake, and the hourly load-health check."""

    TYPE = "gpi:aws:LoaderService"
    alarms = LOAD_HEALTH_ALARMS

    def __init__(
        self,
        platform: Platform,
        args: ServiceArgs,
        *,
        queue_arn: pulumi.Input[str],
        key_secret_arn: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        cfg, bucket = platform.cfg, platform.bucket_arn
        read_key = iam.statement(["secretsmanager:GetSecretValue"], [key_secret_arn], sid="SnowflakeKey")
        super().__init__(
            platform,
            args,
            [
                iam.statement(
                    ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                    [queue_arn],
                    sid="LoaderQueue",
                ),
                iam.statement(["s3:GetObject"], [arn_suffix(bucket, "/*")], sid="LandedObjects"),
                # Lets S3 answer 404 (not 403) for a file listed in a manifest that has not landed yet.
                iam.statement(["s3:ListBucket"], [bucket], sid="LandedList"),
                read_key,
            ],
            opts,
        )
        # The load-health check (same package, second handler): manifests vs. COPY_HISTORY and pipe status, then
        # the race calendar's export into staging.race_calendar (a full scan of the calendar table).
        self.health = self.add_function(
            f"{self.service}-health",
            f"{cfg.names.loader_function}-health",
            [
                iam.list_under(bucket, MANIFEST_PREFIX, sid="ListManifests"),
                iam.statement(["s3:GetObject"], [arn_suffix(bucket, f"/{MANIFEST_PREFIX}*")], sid="Manifests"),
                iam.statement(["dynamodb:Scan"], [platform.table_arn], sid="CalendarExport"),
                read_key,
            ],
            handler=cfg.loader_health_handler,
        )
        platform.trigger(
            f"{self.service}-health-trigger",
            f"{cfg.names.loader_function}-health-hourly",
            cfg.loader_health_expression,
            self.health,
            {"lookback_hours": 24, "grace_minutes": 30},
            "Checks that every manifest's files reached the staging tables",
            self,
        )
        aws.lambda_.EventSourceMapping(
            f"{self.service}-events",
            event_source_arn=queue_arn,
            function_name=self.function.function.arn,
            batch_size=10,
            maximum_batching_window_in_seconds=5,
            function_response_types=["ReportBatchItemFailures"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.function]),
        )
        self.done()


def transformer_alarms(stale_hours: int) -> tuple[MetricAlarm, ...]:
    return (
        MetricAlarm(
            "transform-failed",
            "A dbt build or test of the transformer failed",
            metric.TRANSFORM_FAILED,
            SERVICE_TRANSFORMER,
            statistic="Sum",
            period=300,
        ),
        # The safety schedule runs the transformer hourly, so no successful run for `stale_hours` means the
        # marts are not refreshed: missing data breaches.
        MetricAlarm(
            "marts-stale",
            f"No transformer run succeeded for {stale_hours} h: the marts are stale",
            metric.TRANSFORM_SUCCEEDED,
            SERVICE_TRANSFORMER,
            threshold=1,
            comparison="LessThanThreshold",
            statistic="Sum",
            evaluation_periods=stale_hours,
            treat_missing_data="breaching",
        ),
        MetricAlarm(
            "sources-stale",
            "dbt source freshness: a staging source is past its error_after",
            metric.SOURCES_STALE,
            SERVICE_TRANSFORMER,
        ),
        MetricAlarm(
            "runs-not-in-staging",
            "Landed runs have waited for staging for three hours in a row",
            metric.RUNS_NOT_IN_STAGING,
            SERVICE_TRANSFORMER,
            evaluation_periods=3,
        ),
    )


class TransformerService(LambdaService):
    """The transformer (dbt after every load, services/transformer): its queue with a dead-letter queue, and
    what sends to it - an EventBridge rule on landed manifests (a run is complete in S3) and the hourly safety
    schedule (`{"kind": "scheduled"}`: what changed unannounced, `dbt source freshness`). The event source
    mapping gathers up to `BATCH_SIZE` messages for `transformer_debounce_seconds` (a burst of landed runs is
    one build), and the function's reserved concurrency of one makes builds one at a time. Messages a build
    reports as failed (runs not yet in staging) come back after the visibility timeout, and after five receipts
    go to the dead-letter queue (alarmed), as do deliveries the rule or the schedule could not make."""

    TYPE = "gpi:aws:TransformerService"
    RESERVED_CONCURRENCY = 1  # one dbt build at a time
    queue: MessageQueue
    safety: aws.scheduler.Schedule

    def __init__(
        self,
        platform: Platform,
        args: ServiceArgs,
        *,
        key_secret_arn: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        cfg, bucket = platform.cfg, platform.bucket_arn
        self.alarms = transformer_alarms(cfg.marts_stale_hours)

        def grants() -> Statements:
            self.queue = self._requests_queue()
            return [
                iam.statement(
                    ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                    [self.queue.queue.arn],
                    sid="TransformerQueue",
                ),
                iam.statement(
                    ["s3:GetObject", "s3:PutObject"],
                    [arn_suffix(bucket, f"/{TRANSFORMER_STATE_PREFIX}*")],
                    sid="TransformerState",
                ),
                # Lets S3 answer 404 (not 403) for the state of a first build.
                iam.list_under(bucket, TRANSFORMER_STATE_PREFIX, sid="TransformerStateList"),
                iam.statement(["secretsmanager:GetSecretValue"], [key_secret_arn], sid="SnowflakeKey"),
            ]

        super().__init__(platform, args, grants, opts)
        self._routes()
        aws.lambda_.EventSourceMapping(
            f"{self.service}-events",
            event_source_arn=self.queue.queue.arn,
            function_name=self.function.function.arn,
            batch_size=BATCH_SIZE,
            maximum_batching_window_in_seconds=cfg.transformer_debounce_seconds,
            function_response_types=["ReportBatchItemFailures"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.function]),
        )
        self.done()

    @property
    def dead_letter_queue(self) -> aws.sqs.Queue:
        assert self.queue.dead_letter_queue is not None
        return self.queue.dead_letter_queue

    def _requests_queue(self) -> MessageQueue:
        queue_name = self.platform.cfg.names.transformer_queue
        return MessageQueue(
            f"{self.service}-queue",
            MessageQueueArgs(
                queue_name=queue_name,
                # AWS requires at least the function timeout; six times it leaves room for retries in a batch.
                visibility_timeout_seconds=6 * self.settings.timeout_seconds,
                dead_letter_queue_name=f"{queue_name}-dlq",
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _routes(self) -> None:
        """The landed-manifest rule and the safety schedule onto the queue, each dead-lettering into its DLQ."""
        cfg, child = self.platform.cfg, pulumi.ResourceOptions(parent=self)
        names = cfg.names
        queue_arn, dlq_arn = self.queue.queue.arn, self.dead_letter_queue.arn
        rule = aws.cloudwatch.EventRule(
            f"{self.service}-manifest-landed",
            name=names.manifest_landed_rule,
            description="A manifest landed (a run is complete in S3): build what it changed",
            event_pattern=json.dumps(manifest_landed_pattern(names.landing_bucket), sort_keys=True),
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{self.service}-manifest-landed-target",
            rule=rule.name,
            arn=queue_arn,
            retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                maximum_retry_attempts=cfg.schedule_retry_attempts,
                maximum_event_age_in_seconds=cfg.schedule_max_event_age_seconds,
            ),
            dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=dlq_arn),
            opts=child,
        )
        from_rule = {"ArnEquals": {"aws:SourceArn": rule.arn}}
        for key, queue, sid in (
            ("queue", self.queue.queue, "ManifestLandedRule"),
            ("dlq", self.dead_letter_queue, "ManifestLandedRuleDeadLetters"),
        ):
            aws.sqs.QueuePolicy(
                f"{self.service}-{key}-policy",
                queue_url=queue.url,
                policy=iam.policy_document(
                    [
                        {
                            **iam.statement(["sqs:SendMessage"], [queue.arn], sid=sid, condition=from_rule),
                            "Principal": {"Service": "events.amazonaws.com"},
                        },
                    ]
                ),
                opts=child,
            )
        schedule_name = f"{names.transformer_function}-safety"
        role, policy = role_with_policy(
            f"{self.service}-safety",
            f"{schedule_name}-send",
            iam.assume_role_policy(SCHEDULER_SERVICE),
            iam.policy_document(
                [
                    iam.statement(["sqs:SendMessage"], [queue_arn], sid="TransformerQueue"),
                    iam.statement(["sqs:SendMessage"], [dlq_arn], sid="DeadLetter"),
                ]
            ),
            child,
        )
        self.safety = aws.scheduler.Schedule(
            f"{self.service}-safety",
            name=schedule_name,
            group_name="default",
            description="Safety run of the transformer: builds what changed unannounced, checks source freshness",
            schedule_expression=cfg.transformer_safety_expression,
            schedule_expression_timezone="UTC",
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            state="ENABLED",
            target=aws.scheduler.ScheduleTargetArgs(
                arn=queue_arn,
                role_arn=role.arn,
                input=SCHEDULED.model_dump_json(),
                retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                    maximum_retry_attempts=cfg.schedule_retry_attempts,
                    maximum_event_age_in_seconds=cfg.schedule_max_event_age_seconds,
                ),
                dead_letter_config=aws.scheduler.ScheduleTargetDeadLetterConfigArgs(arn=dlq_arn),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )


SERVICE_TYPES: dict[str, type[LambdaService]] = {
    "scheduler": SchedulerService,
    "ingestion": IngestionService,
    "loader": LoaderService,
    "transformer": TransformerService,
}


def main(argv: Sequence[str]) -> int:
    """`python -m gpi_infra.services target <service>`: the `--target` of a one-service deploy (infra/pulumi/deploy)."""
    if len(argv) != 2 or argv[0] != "target" or argv[1] not in SERVICE_TYPES:
        print(f"usage: python -m gpi_infra.services target {{{','.join(SERVICE_TYPES)}}}")
        return 2
    print(service_target(SERVICE_TYPES[argv[1]].TYPE))
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
