"""An IAM role with its one inline policy: the shape of every role the components declare."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws


def role_with_policy(
    name: str,
    role_name: str,
    trust: pulumi.Input[str],
    policy: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
    *,
    policy_name: str | None = None,
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    """The role `role_name` (resource `<name>-role`) that `trust` may assume, and its inline `policy` (resource
    `<name>-policy`, named `<role_name>-access` unless `policy_name` is given)."""
    role = aws.iam.Role(f"{name}-role", name=role_name, assume_role_policy=trust, opts=opts)
    inline = aws.iam.RolePolicy(
        f"{name}-policy", name=policy_name or f"{role_name}-access", role=role.id, policy=policy, opts=opts
    )
    return role, inline
