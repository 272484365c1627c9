"""The embedded AWS of the local stack: a moto server on 127.0.0.1 with the platform's resources.

The resources are created from the same names and settings the Pulumi stack uses
(`f1common.names.ResourceNames`, `f1common.settings.Settings`): the landing bucket with S3 event
notifications to the loader queue (and to EventBridge, whose rule routes landed manifests to the transformer
queue), the DynamoDB race calendar, the ingestion DLQ and the schedule group.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from f1common.clients import aws_client, clear_client_cache
from f1common.layout import DATA_PREFIX, MANIFEST_PREFIX
from f1common.names import CALENDAR_KEY, CALENDAR_TTL_ATTRIBUTE
from f1common.settings import Settings, ingestion_target_arn, invoke_role_arn, patched_environ
from f1common.transform import manifest_landed_pattern

_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
}


@dataclass(frozen=True)
class StackResources:
    endpoint: str
    bucket: str
    table: str
    loader_queue_url: str
    dlq_url: str
    dlq_arn: str
    schedule_group: str
    ingestion_function_arn: str
    scheduler_role_arn: str
    transformer_queue_url: str = ""


def provision(settings: Settings, *, notifications: bool = True) -> StackResources:
    """Creates (or finds) every resource; idempotent. Notifications can be enabled later."""
    s3, sqs = aws_client("s3", settings), aws_client("sqs", settings)
    ddb, scheduler = aws_client("dynamodb", settings), aws_client("scheduler", settings)
    region = settings.aws_region

    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if settings.bucket not in existing:
        kwargs: dict[str, Any] = {"Bucket": settings.bucket}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**kwargs)

    loader_queue_url = sqs.create_queue(QueueName=settings.queue, Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    dlq_url = sqs.create_queue(QueueName=settings.dlq)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    if settings.table not in ddb.list_tables().get("TableNames", []):
        ddb.create_table(
            TableName=settings.table,
            KeySchema=[{"AttributeName": CALENDAR_KEY, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": CALENDAR_KEY, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.update_time_to_live(
            TableName=settings.table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": CALENDAR_TTL_ATTRIBUTE},
        )

    groups = {g["Name"] for g in scheduler.list_schedule_groups().get("ScheduleGroups", [])}
    if settings.group not in groups:
        scheduler.create_schedule_group(Name=settings.group)

    transformer_queue_url = provision_transformer_queue(settings)
    if notifications:
        enable_notifications(settings)

    return StackResources(
        endpoint=settings.aws_endpoint_url or "",
        bucket=settings.bucket,
        table=settings.table,
        loader_queue_url=loader_queue_url,
        dlq_url=dlq_url,
        dlq_arn=dlq_arn,
        schedule_group=settings.group,
        ingestion_function_arn=ingestion_target_arn(settings),
        scheduler_role_arn=invoke_role_arn(settings),
        transformer_queue_url=transformer_queue_url,
    )


def provision_transformer_queue(settings: Settings) -> str:
    """The transformer queue and the EventBridge rule that sends it each manifest landed in the bucket."""
    sqs, events = aws_client("sqs", settings), aws_client("events", settings)
    names = settings.names
    # a short visibility timeout: a run reported as not yet in staging is retried at the next delivery
    url: str = sqs.create_queue(QueueName=names.transformer_queue, Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=names.manifest_landed_rule, EventPattern=json.dumps(manifest_landed_pattern(settings.bucket)))
    events.put_targets(Rule=names.manifest_landed_rule, Targets=[{"Id": "transformer-queue", "Arn": arn}])
    return url


def enable_notifications(settings: Settings) -> None:
    """S3 event notifications for new data files and manifests -> the loader queue, and every event to EventBridge."""
    s3, sqs = aws_client("s3", settings), aws_client("sqs", settings)
    queue_url = sqs.get_queue_url(QueueName=settings.queue)["QueueUrl"]
    loader_queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    notification = {
        "QueueConfigurations": [
            {
                "Id": f"loader-{prefix.rstrip('=/')}",
                "QueueArn": loader_queue_arn,
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}},
            }
            for prefix in (DATA_PREFIX, MANIFEST_PREFIX)
        ],
        "EventBridgeConfiguration": {},
    }
    s3.put_bucket_notification_configuration(Bucket=settings.bucket, NotificationConfiguration=notification)


@contextmanager
def moto_module_list_cached() -> Iterator[None]:
    """moto's server finds each request's backend by listing its package directory (`list_of_moto_modules`: a
    listdir and a stat per service, twice a request, under the server's lock: ~10 ms a request, the most of its
    work on a small request); the list never changes in a process, so it is read once for the duration."""
    from moto import backends

    original = backends.list_of_moto_modules
    modules = tuple(original())
    backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment]
    try:
        yield
    finally:
        backends.list_of_moto_modules = original  # type: ignore[assignment]


@contextmanager
def moto_server() -> Iterator[str]:
    """Runs a moto server on 127.0.0.1 (a free port) and points boto3 at it for the duration."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    with moto_module_list_cached():
        server.start()
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        # moto keeps its state in process-wide backends that every server of the process shares: start empty
        reset = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(reset, timeout=10).close()
        clear_client_cache()
        try:
            with patched_environ({**_FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}):
                yield endpoint
        finally:
            server.stop()
            clear_client_cache()


def moto_is_a_server() -> bool:
    """Whether the emulated AWS is a moto server (:func:`moto_server`), which other processes reach too."""
    return bool(os.environ.get("AWS_ENDPOINT_URL"))


@contextmanager
def moto_in_process() -> Iterator[None]:
    """moto inside this process (no endpoint: boto3's own calls are intercepted), for the duration."""
    from moto import mock_aws

    clear_client_cache()
    try:
        with patched_environ({**_FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": None, "GPI_AWS_ENDPOINT_URL": None}), mock_aws():
            yield
    finally:
        clear_client_cache()
