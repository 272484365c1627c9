"""One service Lambda: its own least-privilege role, a log group with retention, and its code (zip or image)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from f1common.names import METRICS_NAMESPACE
from gpi_infra import iam
from gpi_infra.components.role import role_with_policy
from gpi_infra.components.service_code import LAMBDA_ARCHITECTURE, FunctionCode
from gpi_infra.config import FunctionSettings


@dataclass(frozen=True)
class ServiceFunctionArgs:
    service: str
    function_name: str
    settings: FunctionSettings
    code: FunctionCode
    environment: Mapping[str, pulumi.Input[str]]
    statements: Sequence[Mapping[str, Any]] = field(default_factory=tuple)
    log_retention_days: int = 30
    reserved_concurrency: int | None = None  # 1: one invocation at a time (the transformer's builds)


class ServiceFunction(pulumi.ComponentResource):
    function: aws.lambda_.Function
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup

    def __init__(self, name: str, args: ServiceFunctionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpi:aws:ServiceFunction", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/lambda/{args.function_name}",
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        logs = iam.statement(
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [self.log_group.arn.apply(lambda arn: f"{arn}:*")],
            sid="OwnLogGroup",
        )
        self.role, self.policy = role_with_policy(
            name,
            f"{args.function_name}-lambda",
            iam.assume_role_policy("lambda.amazonaws.com"),
            iam.policy_document([logs, *args.statements]),
            child,
            policy_name=f"{args.function_name}-access",
        )
        environment = {
            "POWERTOOLS_SERVICE_NAME": args.service,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            **args.environment,
        }
        self.function = aws.lambda_.Function(
            name,
            name=args.function_name,
            role=self.role.arn,
            architectures=[LAMBDA_ARCHITECTURE],
            package_type=args.code.package_type,
            **args.code.arguments,
            memory_size=args.settings.memory_mb,
            timeout=args.settings.timeout_seconds,
            ephemeral_storage=aws.lambda_.FunctionEphemeralStorageArgs(size=args.settings.ephemeral_storage_mb),
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
            reserved_concurrent_executions=args.reserved_concurrency,
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="Text", log_group=self.log_group.name),
            # The log group and the permissions must exist before the first invocation.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.log_group, self.policy]),
        )
        self.register_outputs({"name": self.function.name, "arn": self.function.arn, "role": self.role.arn})
