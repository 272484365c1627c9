"""SQS queues (encrypted), optionally with their own dead-letter queue."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

FOURTEEN_DAYS = 14 * 24 * 3600


@dataclass(frozen=True)
class MessageQueueArgs:
    queue_name: str
    visibility_timeout_seconds: int = 30
    retention_seconds: int = 4 * 24 * 3600
    dead_letter_queue_name: str | None = None
    max_receive_count: int = 5


class MessageQueue(pulumi.ComponentResource):
    queue: aws.sqs.Queue
    dead_letter_queue: aws.sqs.Queue | None

    def __init__(self, name: str, args: MessageQueueArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpi:aws:MessageQueue", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.dead_letter_queue = None
        redrive: pulumi.Input[str] | None = None
        if args.dead_letter_queue_name:
            self.dead_letter_queue = aws.sqs.Queue(
                f"{name}-dlq",
                name=args.dead_letter_queue_name,
                message_retention_seconds=FOURTEEN_DAYS,
                sqs_managed_sse_enabled=True,
                opts=child,
            )
            redrive = self.dead_letter_queue.arn.apply(
                lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": args.max_receive_count})
            )
        self.queue = aws.sqs.Queue(
            name,
            name=args.queue_name,
            visibility_timeout_seconds=args.visibility_timeout_seconds,
            message_retention_seconds=args.retention_seconds,
            sqs_managed_sse_enabled=True,
            redrive_policy=redrive,
            opts=child,
        )
        self.register_outputs({"arn": self.queue.arn, "url": self.queue.url})
