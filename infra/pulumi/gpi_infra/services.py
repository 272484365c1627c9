"""The service deployments of the AWS stack, one ComponentResource per service.

Every service has the same shape (`LambdaService`): its code (the Pants zip, or an image in its own ECR
repository built from that zip) and its function with a least-privilege role; each subclass adds what only
that service has (triggers, queues, the schedules it is invoked by). A service's resources are all children
of its component, so `pulumi up --target '<service_target(...)>'` deploys that service alone (see
.github/workflows/). A fourth service is a subclass here, a `service_lambda` in its BUILD and its defaults in
`config._DEFAULT_FUNCTIONS`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pulumi
import pulumi_aws as aws

from f1common.layout import MANIFEST_PREFIX
from f1common.names import METRICS_NAMESPACE
from gpi_infra import iam
from gpi_infra.components.scheduling import (
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
        self, name: str, schedule_name: str, expression: str, function: ServiceFunction, event: Mapping[str, Any],
        description: str, parent: pulumi.Resource,
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


class LambdaService(pulumi.ComponentResource):
    """One service: its code and its function (`self.function`); subclasses add the rest."""

    TYPE: ClassVar[str]

    def __init__(
        self, platform: Platform, args: ServiceArgs, statements: Sequence[Mapping[str, Any]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
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
        self.function = self.add_function(args.service, function_name(platform.cfg, args.service), statements)

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
            "ergast-backfill-trigger", f"{names.ingestion_function}-daily-ergast",
            platform.cfg.ergast_backfill_expression, self.function, backfill,
            "Lands the Ergast history from the published dump when it changed", self,
        )
        self.bootstrap = platform.bootstrap("ergast-bootstrap", self.function, backfill, self)
        self.done()


class SchedulerService(LambdaService):
    """The scheduler: hourly planning and the daily calendar sync, creating the ingestion's schedules."""

    TYPE = "gpi:aws:SchedulerService"

    def __init__(
        self, platform: Platform, args: ServiceArgs, ingestion: IngestionService,
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
                    ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                     "dynamodb:Scan"],
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
            f"{self.service}-trigger", f"{function_name}-hourly", cfg.scheduler_trigger_expression, self.function,
            {"action": "schedule"}, "Plans ingestion schedules for sessions that are due, and their retries", self,
        )
        # The configured seasons and the current one: in the calendar from the first deploy (and whenever the
        # list changes), then synced daily; each sync also lands the seasons' schedule datasets.
        sync = {"action": "sync", "seasons": cfg.calendar_seasons, "include_current": True}
        platform.trigger(
            "calendar-sync-trigger", f"{function_name}-daily-sync", cfg.calendar_sync_expression, self.function,
            sync, "Syncs the configured and the current season's race calendar with the official schedule", self,
        )
        self.bootstrap = platform.bootstrap("calendar-bootstrap", self.function, sync, self)
        self.done()


class LoaderService(LambdaService):
    """The loader: SQS batches of S3 notifications into Snowflake, and the hourly load-health check."""

    TYPE = "gpi:aws:LoaderService"

    def __init__(
        self, platform: Platform, args: ServiceArgs, *, queue_arn: pulumi.Input[str], key_secret_arn: pulumi.Input[str],
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
                iam.statement(
                    ["s3:ListBucket"], [bucket], sid="ListManifests",
                    condition={"StringLike": {"s3:prefix": [f"{MANIFEST_PREFIX}*"]}},
                ),
                iam.statement(["s3:GetObject"], [arn_suffix(bucket, f"/{MANIFEST_PREFIX}*")], sid="Manifests"),
                iam.statement(["dynamodb:Scan"], [platform.table_arn], sid="CalendarExport"),
                read_key,
            ],
            handler=cfg.loader_health_handler,
        )
        platform.trigger(
            f"{self.service}-health-trigger", f"{cfg.names.loader_function}-health-hourly",
            cfg.loader_health_expression, self.health, {"lookback_hours": 24, "grace_minutes": 30},
            "Checks that every manifest's files reached the staging tables", self,
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


SERVICE_TYPES: dict[str, type[LambdaService]] = {
    "scheduler": SchedulerService,
    "ingestion": IngestionService,
    "loader": LoaderService,
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
