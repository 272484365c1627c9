"""IAM policy documents as plain data: one statement per (actions, resources) pair, rendered to JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

# Actions AWS defines without resource-level permissions: they can only be granted on "*" (narrowed by a
# condition where AWS offers one). The policy pack allows "*" resources for these actions only.
UNSCOPED_ACTIONS = frozenset({"cloudwatch:PutMetricData", "scheduler:ListSchedules"})


def statement(
    actions: Sequence[str],
    resources: Sequence[pulumi.Input[str]],
    *,
    sid: str | None = None,
    condition: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An Allow statement; `resources` may hold Outputs (ARNs of resources created in the same program)."""
    if not actions or not resources:
        raise ValueError(f"IAM statement {sid or ''} needs at least one action and one resource")
    stmt: dict[str, Any] = {"Effect": "Allow", "Action": sorted(actions), "Resource": list(resources)}
    if sid:
        stmt["Sid"] = sid
    if condition:
        stmt["Condition"] = dict(condition)
    return stmt


def list_under(bucket_arn: pulumi.Input[str], prefix: str, *, sid: str) -> dict[str, Any]:
    """An Allow of `s3:ListBucket` on one bucket, for the keys under `prefix` only."""
    return statement(["s3:ListBucket"], [bucket_arn], sid=sid, condition={"StringLike": {"s3:prefix": [f"{prefix}*"]}})


def policy_document(statements: Sequence[Mapping[str, Any]]) -> pulumi.Output[str]:
    """Renders statements (which may contain Outputs) to an IAM policy JSON document."""
    return pulumi.Output.from_input({"Version": "2012-10-17", "Statement": list(statements)}).apply(
        lambda doc: json.dumps(doc, sort_keys=True)
    )


def assume_role_policy(service: str, *, source_arn: pulumi.Input[str] | None = None) -> pulumi.Output[str]:
    """Trust policy letting one AWS service principal assume a role (optionally only for one source ARN)."""
    stmt: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if source_arn is not None:
        stmt["Condition"] = {"ArnLike": {"aws:SourceArn": source_arn}}
    return policy_document([stmt])
