"""The IAM role the Snowflake storage integration assumes to read the landing bucket."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from f1common.layout import DATA_PREFIX
from gpi_infra import iam
from gpi_infra.components.role import role_with_policy


@dataclass(frozen=True)
class SnowflakeAccessArgs:
    role_name: str
    bucket_arn: pulumi.Input[str]
    snowflake_iam_user_arn: pulumi.Input[str]
    external_id: pulumi.Input[str]


class SnowflakeAccess(pulumi.ComponentResource):
    """Trusts only Snowflake's IAM user with the integration's external id; reads only `dataset=` files."""

    role: aws.iam.Role

    def __init__(self, name: str, args: SnowflakeAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpi:aws:SnowflakeAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        trust = iam.policy_document(
            [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": args.snowflake_iam_user_arn},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"sts:ExternalId": args.external_id}},
                }
            ]
        )
        bucket_arn = pulumi.Output.from_input(args.bucket_arn)
        read = iam.policy_document(
            [
                iam.statement(
                    ["s3:GetObject", "s3:GetObjectVersion"],
                    [bucket_arn.apply(lambda arn: f"{arn}/{DATA_PREFIX}*")],
                    sid="ReadLandedFiles",
                ),
                iam.list_under(bucket_arn, DATA_PREFIX, sid="ListLandedFiles"),
                iam.statement(["s3:GetBucketLocation"], [bucket_arn], sid="BucketLocation"),
            ]
        )
        self.role, self.policy = role_with_policy(
            name, args.role_name, trust, read, child, policy_name=f"{args.role_name}-read"
        )
        self.register_outputs({"role": self.role.arn})
