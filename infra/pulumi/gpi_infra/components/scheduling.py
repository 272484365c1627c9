"""EventBridge Scheduler: the ingestion schedule group with the role its schedules run as, and the
recurring trigger of the scheduler Lambda. Every schedule retries and dead-letters into an SQS queue."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from gpi_infra import iam
from gpi_infra.components.role import role_with_policy

SCHEDULER_SERVICE = "scheduler.amazonaws.com"


def _invoke_role_policy(function_arn: pulumi.Input[str], dlq_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    return iam.policy_document(
        [
            iam.statement(["lambda:InvokeFunction"], [function_arn], sid="InvokeTarget"),
            iam.statement(["sqs:SendMessage"], [dlq_arn], sid="DeadLetter"),
        ]
    )


def _schedules_of_group(group_arn: pulumi.Output[str]) -> pulumi.Output[str]:
    """`arn:...:schedule-group/g` -> `arn:...:schedule/g/*`: every schedule in the group."""
    return group_arn.apply(lambda arn: arn.replace(":schedule-group/", ":schedule/") + "/*")


@dataclass(frozen=True)
class IngestionSchedulesArgs:
    group_name: str
    role_name: str
    ingestion_function_arn: pulumi.Input[str]
    dlq_arn: pulumi.Input[str]


class IngestionSchedules(pulumi.ComponentResource):
    """The group the scheduler service creates one-time ingestion schedules in, and the role they assume.

    The role may only invoke the ingestion Lambda (and dead-letter into the DLQ), and only schedules of
    this group may assume it.
    """

    group: aws.scheduler.ScheduleGroup
    role: aws.iam.Role

    def __init__(self, name: str, args: IngestionSchedulesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpi:aws:IngestionSchedules", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.group = aws.scheduler.ScheduleGroup(f"{name}-group", name=args.group_name, opts=child)
        self.schedules_arn = _schedules_of_group(self.group.arn)
        self.role, self.policy = role_with_policy(
            name,
            args.role_name,
            iam.assume_role_policy(SCHEDULER_SERVICE, source_arn=self.schedules_arn),
            _invoke_role_policy(args.ingestion_function_arn, args.dlq_arn),
            child,
        )
        self.register_outputs({"group": self.group.name, "role": self.role.arn})


@dataclass(frozen=True)
class RecurringTriggerArgs:
    schedule_name: str
    group_name: str
    expression: str
    function_arn: pulumi.Input[str]
    dlq_arn: pulumi.Input[str]
    event: Mapping[str, Any]
    description: str
    retry_attempts: int = 3
    max_event_age_seconds: int = 3600


class RecurringTrigger(pulumi.ComponentResource):
    """A recurring schedule invoking one Lambda (the scheduler), with its own invoke-only role."""

    schedule: aws.scheduler.Schedule
    role: aws.iam.Role

    def __init__(self, name: str, args: RecurringTriggerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpi:aws:RecurringTrigger", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.role, self.policy = role_with_policy(
            name,
            f"{args.schedule_name}-invoke",
            iam.assume_role_policy(SCHEDULER_SERVICE),
            _invoke_role_policy(args.function_arn, args.dlq_arn),
            child,
        )
        self.schedule = aws.scheduler.Schedule(
            name,
            name=args.schedule_name,
            group_name=args.group_name,
            description=args.description,
            schedule_expression=args.expression,
            schedule_expression_timezone="UTC",
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            state="ENABLED",
            target=aws.scheduler.ScheduleTargetArgs(
                arn=args.function_arn,
                role_arn=self.role.arn,
                input=json.dumps(dict(args.event), sort_keys=True),
                retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                    maximum_retry_attempts=args.retry_attempts,
                    maximum_event_age_in_seconds=args.max_event_age_seconds,
                ),
                dead_letter_config=aws.scheduler.ScheduleTargetDeadLetterConfigArgs(arn=args.dlq_arn),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.policy]),
        )
        self.register_outputs({"schedule": self.schedule.arn, "role": self.role.arn})
