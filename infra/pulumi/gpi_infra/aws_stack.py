"""The AWS stack: landing bucket, race calendar, the three service Lambdas, scheduling, alarms.

`aws_program` takes its configuration and the Snowflake stack's outputs as arguments (the project's
`__main__.py` reads them from `pulumi.Config` and a `StackReference`), so tests run it under mocks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from f1common.layout import DATA_PREFIX, MANIFEST_PREFIX
from f1common.names import METRICS_NAMESPACE, SERVICE_INGESTION, SERVICE_LOADER, SERVICE_SCHEDULER
from gpi_infra import iam
from gpi_infra.components.alarms import Alarms, AlarmsArgs
from gpi_infra.components.calendar_table import CalendarTable, CalendarTableArgs
from gpi_infra.components.landing_bucket import LandingBucket, LandingBucketArgs, QueueNotification
from gpi_infra.components.queues import FOURTEEN_DAYS, MessageQueue, MessageQueueArgs
from gpi_infra.components.scheduling import (
    IngestionSchedules,
    IngestionSchedulesArgs,
    RecurringTrigger,
    RecurringTriggerArgs,
)
from gpi_infra.components.service_function import ServiceFunction, ServiceFunctionArgs
from gpi_infra.components.snowflake_access import SnowflakeAccess, SnowflakeAccessArgs
from gpi_infra.config import AwsStackConfig, snowflake_access_role_name

# Where the ingestion Lambda keeps FastF1's HTTP cache (the only writable path in Lambda).
LAMBDA_FASTF1_CACHE = "/tmp/fastf1-cache"


@dataclass(frozen=True)
class SnowflakeOutputs:
    """What the AWS stack needs from the Snowflake stack (its stack outputs of the same names)."""

    pipe_notification_channel: pulumi.Input[str]
    storage_aws_iam_user_arn: pulumi.Input[str]
    storage_aws_external_id: pulumi.Input[str]
    account: pulumi.Input[str]
    database: pulumi.Input[str]
    loader_user: pulumi.Input[str]
    loader_role: pulumi.Input[str]
    load_warehouse: pulumi.Input[str]

    @classmethod
    def output_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_stack(cls, stack: pulumi.StackReference) -> SnowflakeOutputs:
        return cls(**{name: stack.require_output(name) for name in cls.output_names()})


def _arn_suffix(arn: pulumi.Output[str], suffix: str) -> pulumi.Output[str]:
    return arn.apply(lambda value: f"{value}{suffix}")


def aws_program(
    cfg: AwsStackConfig, snowflake: SnowflakeOutputs, *, snowflake_private_key: pulumi.Input[str] | None = None
) -> dict[str, Any]:
    """Declares every AWS resource of one stage; returns the stack outputs."""
    names = cfg.names
    prefix = f"gpi-{cfg.stage}"
    fn = cfg.functions

    calendar = CalendarTable(
        "calendar", CalendarTableArgs(table_name=names.calendar_table, deletion_protection=cfg.stage == "prod")
    )
    table_arn = calendar.table.arn
    ingestion_dlq = MessageQueue(
        "ingestion-dlq", MessageQueueArgs(queue_name=names.ingestion_dlq, retention_seconds=FOURTEEN_DAYS)
    )
    dlq_arn = ingestion_dlq.queue.arn
    loader_queue = MessageQueue(
        "loader-queue",
        MessageQueueArgs(
            queue_name=names.loader_queue,
            # AWS requires at least the function timeout; six times it leaves room for retries in a batch.
            visibility_timeout_seconds=6 * fn[SERVICE_LOADER].timeout_seconds,
            dead_letter_queue_name=f"{names.loader_queue}-dlq",
        ),
    )
    assert loader_queue.dead_letter_queue is not None

    # Exactly one path loads the landed files, so no row is loaded twice: Snowpipe auto-ingests the data files
    # (the loader then only checks load health and serves replays sent to its queue), or, for accounts
    # without Snowpipe, the loader consumes every data-file and manifest event itself.
    if cfg.load_with == "snowpipe":
        # data files and manifests alike: the manifests pipe tells dbt which runs are complete
        prefixes = (DATA_PREFIX, MANIFEST_PREFIX)
        notifications = [QueueNotification("snowpipe", snowflake.pipe_notification_channel, prefixes)]
    else:
        notifications = [
            QueueNotification(
                "loader", loader_queue.queue.arn, (DATA_PREFIX, MANIFEST_PREFIX), queue_url=loader_queue.queue.url
            )
        ]
    landing = LandingBucket(
        "landing",
        LandingBucketArgs(
            bucket_name=names.landing_bucket,
            ia_after_days=cfg.landing_ia_after_days,
            expire_after_days=cfg.landing_expire_after_days,
            noncurrent_expire_after_days=cfg.noncurrent_expire_after_days,
            notifications=notifications,
        ),
    )
    bucket_arn = landing.bucket.arn

    snowflake_access = SnowflakeAccess(
        "snowflake-access",
        SnowflakeAccessArgs(
            role_name=snowflake_access_role_name(cfg.stage),
            bucket_arn=bucket_arn,
            snowflake_iam_user_arn=snowflake.storage_aws_iam_user_arn,
            external_id=snowflake.storage_aws_external_id,
        ),
    )

    # The loader's Snowflake private key: the secret's value is set from an encrypted stack config value
    # when given, else put there out of band (see README); it never appears in code or plain config.
    key_secret = aws.secretsmanager.Secret(
        "snowflake-loader-key",
        name=f"{prefix}/snowflake/loader-private-key",
        description="PEM private key of the Snowflake loader service user",
        recovery_window_in_days=7,
    )
    if snowflake_private_key is not None:
        aws.secretsmanager.SecretVersion(
            "snowflake-loader-key-value", secret_id=key_secret.id, secret_string=snowflake_private_key
        )

    common_env: dict[str, pulumi.Input[str]] = {
        "GPI_STAGE": cfg.stage,
        "GPI_LANDING_BUCKET": landing.bucket.bucket,
        "GPI_CALENDAR_TABLE": calendar.table.name,
        "GPI_LOADER_QUEUE": loader_queue.queue.name,
        "GPI_INGESTION_DLQ": ingestion_dlq.queue.name,
        "GPI_SCHEDULE_GROUP": names.schedule_group,
    }
    put_metrics = iam.statement(
        ["cloudwatch:PutMetricData"],
        ["*"],
        sid="OwnMetricsNamespace",
        condition={"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}},
    )

    ingestion = ServiceFunction(
        SERVICE_INGESTION,
        ServiceFunctionArgs(
            service=SERVICE_INGESTION,
            function_name=names.ingestion_function,
            settings=fn[SERVICE_INGESTION],
            log_retention_days=cfg.log_retention_days,
            environment={**common_env, "GPI_FASTF1_CACHE_DIR": LAMBDA_FASTF1_CACHE, "GPI_FASTF1_OFFLINE": "false"},
            statements=[
                iam.statement(
                    ["s3:GetObject", "s3:PutObject", "s3:PutObjectTagging"],  # tags: publication state (orphans)
                    [_arn_suffix(bucket_arn, "/*")],
                    sid="LandingObjects",
                ),
                iam.statement(["s3:ListBucket"], [bucket_arn], sid="LandingList"),
                iam.statement(
                    ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                    [table_arn],
                    sid="Calendar",
                ),
                put_metrics,
                iam.statement(["sqs:SendMessage"], [dlq_arn], sid="FailedInvocations"),
            ],
        ),
    )
    # Schedules invoke the ingestion asynchronously: an invocation that still fails after one retry lands
    # in the DLQ (whose depth alarms). Retrying is safe: the ingestion is idempotent per session and attempt.
    aws.lambda_.FunctionEventInvokeConfig(
        "ingestion-async",
        function_name=ingestion.function.name,
        maximum_retry_attempts=1,
        maximum_event_age_in_seconds=3600,
        destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
            on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(destination=dlq_arn)
        ),
        opts=pulumi.ResourceOptions(depends_on=[ingestion]),
    )

    schedules = IngestionSchedules(
        "ingestion-schedules",
        IngestionSchedulesArgs(
            group_name=names.schedule_group,
            role_name=names.ingestion_invoke_role,
            ingestion_function_arn=ingestion.function.arn,
            dlq_arn=dlq_arn,
        ),
    )

    scheduler = ServiceFunction(
        SERVICE_SCHEDULER,
        ServiceFunctionArgs(
            service=SERVICE_SCHEDULER,
            function_name=names.scheduler_function,
            settings=fn[SERVICE_SCHEDULER],
            log_retention_days=cfg.log_retention_days,
            environment={
                **common_env,
                "GPI_INGESTION_FUNCTION_ARN": ingestion.function.arn,
                "GPI_SCHEDULER_ROLE_ARN": schedules.role.arn,
                "GPI_INGESTION_DLQ_ARN": dlq_arn,
                "GPI_FASTF1_CACHE_DIR": LAMBDA_FASTF1_CACHE,
                "GPI_FASTF1_OFFLINE": "false",
            },
            statements=[
                iam.statement(
                    [
                        "dynamodb:GetItem",
                        "dynamodb:PutItem",
                        "dynamodb:UpdateItem",
                        "dynamodb:DeleteItem",
                        "dynamodb:Scan",
                    ],
                    [table_arn],
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
                put_metrics,
            ],
        ),
    )
    trigger = RecurringTrigger(
        "scheduler-trigger",
        RecurringTriggerArgs(
            schedule_name=f"{names.scheduler_function}-hourly",
            group_name="default",
            expression=cfg.scheduler_trigger_expression,
            function_arn=scheduler.function.arn,
            dlq_arn=dlq_arn,
            event={"action": "schedule"},
            description="Plans ingestion schedules for sessions that are due, and their retries",
            retry_attempts=cfg.schedule_retry_attempts,
            max_event_age_seconds=cfg.schedule_max_event_age_seconds,
        ),
    )
    RecurringTrigger(
        "calendar-sync-trigger",
        RecurringTriggerArgs(
            schedule_name=f"{names.scheduler_function}-daily-sync",
            group_name="default",
            expression=cfg.calendar_sync_expression,
            function_arn=scheduler.function.arn,
            dlq_arn=dlq_arn,
            event={"action": "sync"},
            description="Syncs the current season's race calendar with the official schedule",
            retry_attempts=cfg.schedule_retry_attempts,
            max_event_age_seconds=cfg.schedule_max_event_age_seconds,
        ),
    )

    loader_env: dict[str, pulumi.Input[str]] = {
        **common_env,
        "GPI_WAREHOUSE": "snowflake",
        "GPI_SNOWFLAKE_ACCOUNT": snowflake.account,
        "GPI_SNOWFLAKE_USER": snowflake.loader_user,
        "GPI_SNOWFLAKE_ROLE": snowflake.loader_role,
        "GPI_SNOWFLAKE_WAREHOUSE": snowflake.load_warehouse,
        "GPI_SNOWFLAKE_DATABASE": snowflake.database,
        "GPI_SNOWFLAKE_PRIVATE_KEY_SECRET_ID": key_secret.arn,
    }
    read_key = iam.statement(["secretsmanager:GetSecretValue"], [key_secret.arn], sid="SnowflakeKey")
    loader = ServiceFunction(
        SERVICE_LOADER,
        ServiceFunctionArgs(
            service=SERVICE_LOADER,
            function_name=names.loader_function,
            settings=fn[SERVICE_LOADER],
            log_retention_days=cfg.log_retention_days,
            environment=loader_env,
            statements=[
                iam.statement(
                    ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                    [loader_queue.queue.arn],
                    sid="LoaderQueue",
                ),
                iam.statement(["s3:GetObject"], [_arn_suffix(bucket_arn, "/*")], sid="LandedObjects"),
                # Lets S3 answer 404 (not 403) for a file listed in a manifest that has not landed yet.
                iam.statement(["s3:ListBucket"], [bucket_arn], sid="LandedList"),
                read_key,
                put_metrics,
            ],
        ),
    )
    # The loader's load-health check (same package, second handler): manifests vs. COPY_HISTORY and pipe status,
    # then the race calendar's export into staging.race_calendar (a full scan of the calendar table).
    health = ServiceFunction(
        "loader-health",
        ServiceFunctionArgs(
            service=SERVICE_LOADER,
            function_name=f"{names.loader_function}-health",
            settings=fn[SERVICE_LOADER].model_copy(update={"handler": cfg.loader_health_handler}),
            log_retention_days=cfg.log_retention_days,
            environment=loader_env,
            statements=[
                iam.statement(
                    ["s3:ListBucket"],
                    [bucket_arn],
                    sid="ListManifests",
                    condition={"StringLike": {"s3:prefix": [f"{MANIFEST_PREFIX}*"]}},
                ),
                iam.statement(["s3:GetObject"], [_arn_suffix(bucket_arn, f"/{MANIFEST_PREFIX}*")], sid="Manifests"),
                iam.statement(["dynamodb:Scan"], [table_arn], sid="CalendarExport"),
                read_key,
                put_metrics,
            ],
        ),
    )
    RecurringTrigger(
        "loader-health-trigger",
        RecurringTriggerArgs(
            schedule_name=f"{names.loader_function}-health-hourly",
            group_name="default",
            expression=cfg.loader_health_expression,
            function_arn=health.function.arn,
            dlq_arn=dlq_arn,
            event={"lookback_hours": 24, "grace_minutes": 30},
            description="Checks that every manifest's files reached the staging tables",
            retry_attempts=cfg.schedule_retry_attempts,
            max_event_age_seconds=cfg.schedule_max_event_age_seconds,
        ),
    )
    aws.lambda_.EventSourceMapping(
        "loader-events",
        event_source_arn=loader_queue.queue.arn,
        function_name=loader.function.arn,
        batch_size=10,
        maximum_batching_window_in_seconds=5,
        function_response_types=["ReportBatchItemFailures"],
        opts=pulumi.ResourceOptions(depends_on=[loader]),
    )

    alarms = Alarms(
        "alarms",
        AlarmsArgs(
            prefix=prefix,
            function_names={
                SERVICE_SCHEDULER: scheduler.function.name,
                SERVICE_INGESTION: ingestion.function.name,
                SERVICE_LOADER: loader.function.name,
                "loader-health": health.function.name,
            },
            dead_letter_queue_names={
                "ingestion-dlq": ingestion_dlq.queue.name,
                "loader-dlq": loader_queue.dead_letter_queue.name,
            },
            overdue_hours=cfg.ingestion_overdue_hours,
            alarm_email=cfg.alarm_email,
        ),
    )

    return {
        "stage": cfg.stage,
        "landing_bucket": landing.bucket.bucket,
        "landing_bucket_arn": bucket_arn,
        "calendar_table": calendar.table.name,
        "calendar_table_arn": table_arn,
        "loader_queue_arn": loader_queue.queue.arn,
        "loader_dlq_arn": loader_queue.dead_letter_queue.arn,
        "ingestion_dlq_arn": dlq_arn,
        "schedule_group": schedules.group.name,
        "scheduler_role_arn": schedules.role.arn,
        "scheduler_trigger": trigger.schedule.name,
        "scheduler_function": scheduler.function.name,
        "ingestion_function": ingestion.function.name,
        "ingestion_function_arn": ingestion.function.arn,
        "loader_function": loader.function.name,
        "loader_health_function": health.function.name,
        "load_with": cfg.load_with,
        "snowflake_access_role_arn": snowflake_access.role.arn,
        "snowflake_key_secret_arn": key_secret.arn,
        "alarm_topic_arn": alarms.topic.arn,
    }
