"""The AWS stack: landing bucket, race calendar, queues and keys shared by the services, one component per
service (gpi_infra.services), alarms.

`aws_program` takes its configuration, the Snowflake stack's outputs and the services' packages as arguments
(the project's `__main__.py` reads the config and a `StackReference` and has Pants build the packages), so
tests run it under mocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from f1common.layout import DATA_PREFIX, MANIFEST_PREFIX
from f1common.names import SERVICE_INGESTION, SERVICE_LOADER, SERVICE_SCHEDULER, SERVICE_TRANSFORMER
from gpi_infra.components.alarms import Alarms, AlarmsArgs
from gpi_infra.components.calendar_table import CalendarTable, CalendarTableArgs
from gpi_infra.components.landing_bucket import LandingBucket, LandingBucketArgs, QueueNotification
from gpi_infra.components.queues import FOURTEEN_DAYS, MessageQueue, MessageQueueArgs
from gpi_infra.components.snowflake_access import SnowflakeAccess, SnowflakeAccessArgs
from gpi_infra.config import AwsStackConfig, StackOutputs, snowflake_access_role_name
from gpi_infra.packages import ServicePackage
from gpi_infra.services import (
    IngestionService,
    LambdaService,
    LoaderService,
    Platform,
    SchedulerService,
    ServiceArgs,
    TransformerService,
)

# Where the ingestion Lambda keeps FastF1's HTTP cache (the only writable path in Lambda).
LAMBDA_FASTF1_CACHE = "/tmp/fastf1-cache"
FASTF1_ONLINE = {"GPI_FASTF1_CACHE_DIR": LAMBDA_FASTF1_CACHE, "GPI_FASTF1_OFFLINE": "false"}


@dataclass(frozen=True)
class SnowflakeOutputs(StackOutputs):
    """What the AWS stack needs from the Snowflake stack (its stack outputs of the same names)."""

    pipe_notification_channel: pulumi.Input[str]
    storage_aws_iam_user_arn: pulumi.Input[str]
    storage_aws_external_id: pulumi.Input[str]
    account: pulumi.Input[str]
    database: pulumi.Input[str]
    loader_user: pulumi.Input[str]
    loader_role: pulumi.Input[str]
    load_warehouse: pulumi.Input[str]
    loader_private_key: pulumi.Input[str]  # secret: the key pair the Snowflake stack generated for the loader user
    transformer_user: pulumi.Input[str]
    transformer_role: pulumi.Input[str]
    transform_warehouse: pulumi.Input[str]
    transformer_private_key: pulumi.Input[str]  # secret, as the loader's (dbt's `prod` target signs in with it)


def aws_program(
    cfg: AwsStackConfig, snowflake: SnowflakeOutputs, packages: dict[str, ServicePackage]
) -> dict[str, Any]:
    """Declares every AWS resource of one stage; returns the stack outputs."""
    names = cfg.names
    prefix = f"gpi-{cfg.stage}"

    calendar = CalendarTable(
        "calendar", CalendarTableArgs(table_name=names.calendar_table, deletion_protection=cfg.stage == "prod")
    )
    ingestion_dlq = MessageQueue(
        "ingestion-dlq", MessageQueueArgs(queue_name=names.ingestion_dlq, retention_seconds=FOURTEEN_DAYS)
    )
    loader_queue = MessageQueue(
        "loader-queue",
        MessageQueueArgs(
            queue_name=names.loader_queue,
            # AWS requires at least the function timeout; six times it leaves room for retries in a batch.
            visibility_timeout_seconds=6 * cfg.functions[SERVICE_LOADER].timeout_seconds,
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
            eventbridge=True,  # landed manifests -> the transformer queue (its EventBridge rule)
        ),
    )
    snowflake_access = SnowflakeAccess(
        "snowflake-access",
        SnowflakeAccessArgs(
            role_name=snowflake_access_role_name(cfg.stage),
            bucket_arn=landing.bucket.arn,
            snowflake_iam_user_arn=snowflake.storage_aws_iam_user_arn,
            external_id=snowflake.storage_aws_external_id,
        ),
    )
    key_secret = _snowflake_key(prefix, SERVICE_LOADER, snowflake.loader_private_key)
    transformer_key = _snowflake_key(prefix, SERVICE_TRANSFORMER, snowflake.transformer_private_key)

    platform = Platform(
        cfg=cfg,
        environment={
            "GPI_STAGE": cfg.stage,
            "GPI_LANDING_BUCKET": landing.bucket.bucket,
            "GPI_CALENDAR_TABLE": calendar.table.name,
            "GPI_LOADER_QUEUE": loader_queue.queue.name,
            "GPI_INGESTION_DLQ": ingestion_dlq.queue.name,
            "GPI_SCHEDULE_GROUP": names.schedule_group,
        },
        table_arn=calendar.table.arn,
        bucket_arn=landing.bucket.arn,
        dlq_arn=ingestion_dlq.queue.arn,
    )
    ingestion = IngestionService(
        platform,
        ServiceArgs(
            SERVICE_INGESTION,
            packages[SERVICE_INGESTION],
            environment={**FASTF1_ONLINE, "GPI_ERGAST_DUMP_URL": cfg.ergast_dump_url},
        ),
    )
    scheduler = SchedulerService(
        platform, ServiceArgs(SERVICE_SCHEDULER, packages[SERVICE_SCHEDULER], environment=FASTF1_ONLINE), ingestion
    )
    loader = LoaderService(
        platform,
        ServiceArgs(
            SERVICE_LOADER,
            packages[SERVICE_LOADER],
            environment=_snowflake_environment(
                snowflake, snowflake.loader_user, snowflake.loader_role, snowflake.load_warehouse, key_secret.arn
            ),
        ),
        queue_arn=loader_queue.queue.arn,
        key_secret_arn=key_secret.arn,
    )
    # dbt's `prod` target reads exactly these (services/transformer/transformer/profile_test.py).
    transformer = TransformerService(
        platform,
        ServiceArgs(
            SERVICE_TRANSFORMER,
            packages[SERVICE_TRANSFORMER],
            environment=_snowflake_environment(
                snowflake,
                snowflake.transformer_user,
                snowflake.transformer_role,
                snowflake.transform_warehouse,
                transformer_key.arn,
            ),
        ),
        key_secret_arn=transformer_key.arn,
    )
    services: list[LambdaService] = [scheduler, ingestion, loader, transformer]

    alarms = Alarms(
        "alarms",
        AlarmsArgs(
            prefix=prefix,
            function_names={
                SERVICE_SCHEDULER: scheduler.function.function.name,
                SERVICE_INGESTION: ingestion.function.function.name,
                SERVICE_LOADER: loader.function.function.name,
                "loader-health": loader.health.function.name,
                SERVICE_TRANSFORMER: transformer.function.function.name,
            },
            dead_letter_queue_names={
                "ingestion-dlq": ingestion_dlq.queue.name,
                "loader-dlq": loader_queue.dead_letter_queue.name,
                "transformer-dlq": transformer.dead_letter_queue.name,
            },
            overdue_hours=cfg.ingestion_overdue_hours,
            alarm_email=cfg.alarm_email,
            metric_alarms=[alarm for service in services for alarm in service.alarms],
        ),
    )

    return {
        "stage": cfg.stage,
        "landing_bucket": landing.bucket.bucket,
        "landing_bucket_arn": landing.bucket.arn,
        "calendar_table": calendar.table.name,
        "calendar_table_arn": calendar.table.arn,
        "loader_queue_arn": loader_queue.queue.arn,
        "loader_dlq_arn": loader_queue.dead_letter_queue.arn,
        "ingestion_dlq_arn": ingestion_dlq.queue.arn,
        "schedule_group": ingestion.schedules.group.name,
        "scheduler_role_arn": ingestion.schedules.role.arn,
        "scheduler_trigger": scheduler.trigger.schedule.name,
        "scheduler_function": scheduler.function.function.name,
        "ingestion_function": ingestion.function.function.name,
        "ingestion_function_arn": ingestion.function.function.arn,
        "loader_function": loader.function.function.name,
        "loader_health_function": loader.health.function.name,
        "transformer_function": transformer.function.function.name,
        "transformer_queue_url": transformer.queue.queue.url,
        "images": {s.service: s.image.image_uri for s in services if s.image is not None},
        "load_with": cfg.load_with,
        "snowflake_access_role_arn": snowflake_access.role.arn,
        "snowflake_key_secret_arn": key_secret.arn,
        "snowflake_transformer_key_secret_arn": transformer_key.arn,
        "alarm_topic_arn": alarms.topic.arn,
    }


def _snowflake_key(prefix: str, service: str, private_key: pulumi.Input[str]) -> aws.secretsmanager.Secret:
    """A service user's Snowflake private key, from the Snowflake stack (which generated the pair) into Secrets
    Manager; it stays a secret all the way (stack output, this state, the secret's value)."""
    secret = aws.secretsmanager.Secret(
        f"snowflake-{service}-key",
        name=f"{prefix}/snowflake/{service}-private-key",
        description=f"PEM private key of the Snowflake {service} service user (generated by the gpi-snowflake stack)",
        recovery_window_in_days=7,
    )
    aws.secretsmanager.SecretVersion(
        f"snowflake-{service}-key-value", secret_id=secret.id, secret_string=pulumi.Output.secret(private_key)
    )
    return secret


def _snowflake_environment(
    snowflake: SnowflakeOutputs,
    user: pulumi.Input[str],
    role: pulumi.Input[str],
    warehouse: pulumi.Input[str],
    key_secret_arn: pulumi.Input[str],
) -> dict[str, pulumi.Input[str]]:
    """How a service signs in to Snowflake as its own user (f1common.settings reads these)."""
    return {
        "GPI_WAREHOUSE": "snowflake",
        "GPI_SNOWFLAKE_ACCOUNT": snowflake.account,
        "GPI_SNOWFLAKE_USER": user,
        "GPI_SNOWFLAKE_ROLE": role,
        "GPI_SNOWFLAKE_WAREHOUSE": warehouse,
        "GPI_SNOWFLAKE_DATABASE": snowflake.database,
        "GPI_SNOWFLAKE_PRIVATE_KEY_SECRET_ID": key_secret_arn,
    }
