from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

from gpi_infra import policies
from gpi_infra.aws_stack import aws_program
from gpi_infra.config import AWS_PROJECT, SNOWFLAKE_PROJECT, AwsStackConfig
from gpi_infra.snowflake_stack import snowflake_program
from gpi_infra.testing import (
    Recorded,
    Stack,
    packages_for,
    policy_resource,
    resource_args,
    run_program,
    snowflake_config,
    snowflake_outputs,
    violations,
    with_packages,
)


def run_prod(cfg: AwsStackConfig, directory: Path) -> Stack:
    cfg = with_packages(cfg, directory)
    return run_program(
        lambda: aws_program(cfg, snowflake_outputs("prod"), packages_for(cfg)), project=AWS_PROJECT, stack="prod"
    )


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    """The prod stack in the mode that has every kind of resource (the loader's queue policy)."""
    cfg = AwsStackConfig(stage="prod", snowflake_stack="acme/gpi-snowflake/prod", load_with="loader")
    return run_prod(cfg, tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def aws_snowpipe(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    cfg = AwsStackConfig(stage="prod", snowflake_stack="acme/gpi-snowflake/prod", alarm_email="ops@example.com")
    return run_prod(cfg, tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def snow() -> Stack:
    cfg = snowflake_config()
    return run_program(lambda: snowflake_program(cfg), project=SNOWFLAKE_PROJECT)


def run_all(policy: Any, stack: Stack, replace: dict[str, Any] | None = None, drop: str | None = None) -> list[str]:
    """Validates every resource of the stack; `replace` maps a resource name to its overridden props."""
    replace = replace or {}
    resources = [r for r in stack.resources if r.name != drop]
    if isinstance(policy, StackValidationPolicy):
        return violations(policy, [policy_resource(r, **replace.get(r.name, {})) for r in resources])
    found: list[str] = []
    for r in resources:
        found += violations(policy, resource_args(r, **replace.get(r.name, {})))
    return found


@pytest.mark.parametrize("policy", policies.POLICIES, ids=lambda p: p.name)
def test_both_stacks_comply(
    policy: ResourceValidationPolicy | StackValidationPolicy, aws: Stack, aws_snowpipe: Stack, snow: Stack
) -> None:
    assert run_all(policy, aws) == []
    assert run_all(policy, aws_snowpipe) == []
    assert run_all(policy, snow) == []


def test_policy_pack_lists_each_policy_once() -> None:
    names = [p.name for p in policies.POLICIES]
    assert len(names) == len(set(names)) == 9


def test_public_bucket_is_refused(aws: Stack) -> None:
    assert (
        "needs a BucketPublicAccessBlock"
        in run_all(policies.no_public_buckets, aws, drop="landing-public-access-block")[0]
    )
    half_open = {"landing-public-access-block": {"restrictPublicBuckets": False}}
    assert len(run_all(policies.no_public_buckets, aws, half_open)) == 1
    public_acl = {"landing": {"acl": "public-read"}}
    assert "public ACL 'public-read'" in run_all(policies.no_public_buckets, aws, public_acl)[0]
    bucket = aws.one("aws:s3/bucket:Bucket")
    public_policy = Recorded(
        policies.BUCKET_POLICY,
        "public-policy",
        {},
        {
            "bucket": bucket.id,
            "policy": json.dumps(
                {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "x"}]}
            ),
        },
        "public-policy",
    )
    found = violations(policies.no_public_buckets, [policy_resource(r) for r in [*aws.resources, public_policy]])
    assert len(found) == 1 and "allows anyone" in found[0]


def test_unencrypted_bucket_or_queue_is_refused(aws: Stack) -> None:
    found = run_all(policies.encryption_at_rest, aws, drop="landing-encryption")
    assert len(found) == 1 and "no default server-side encryption" in found[0]
    plain = {"loader-queue": {"sqsManagedSseEnabled": False}}
    assert run_all(policies.encryption_at_rest, aws, plain) == ["SQS queue gpi-prod-loader-events is not encrypted"]


def test_unversioned_bucket_is_refused(aws: Stack) -> None:
    suspended = {"landing-versioning": {"versioningConfiguration": {"status": "Suspended"}}}
    found = run_all(policies.bucket_versioning, aws, suspended)
    assert found == ["bucket gpi-prod-landing needs a BucketVersioning with status Enabled"]


def test_iam_wildcards_are_refused(aws: Stack) -> None:
    policy = aws.one("aws:iam/rolePolicy:RolePolicy", "loader-policy")
    doc = policy.policy("policy")

    def with_statement(stmt: dict[str, Any]) -> list[str]:
        bad = {**doc, "Statement": [*doc["Statement"], stmt]}
        return violations(policies.no_iam_wildcards, resource_args(policy, policy=json.dumps(bad)))

    assert (
        "wildcard action 's3:*'"
        in with_statement({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b"})[0]
    )
    assert "wildcard action '*'" in with_statement({"Effect": "Allow", "Action": ["*"], "Resource": ["arn:x"]})[0]
    found = with_statement({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"})
    index = len(doc["Statement"])  # the added statement has no Sid
    assert found == [f"loader-policy.policy: statement #{index} grants ['s3:GetObject'] on every resource ('*')"]
    # An unscoped action mixed with a scoped one on "*" is still refused.
    mixed = with_statement(
        {"Effect": "Allow", "Action": ["cloudwatch:PutMetricData", "sqs:SendMessage"], "Resource": "*"}
    )
    assert "['sqs:SendMessage'] on every resource" in mixed[0]
    assert "uses NotAction" in with_statement({"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:x"})[0]
    # Resource policies are checked too, and admin managed policies are refused.
    queue_policy = aws.one("aws:sqs/queuePolicy:QueuePolicy", "landing-to-loader")
    open_doc = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:*", "Resource": "*"}]}
    assert len(violations(policies.no_iam_wildcards, resource_args(queue_policy, policy=json.dumps(open_doc)))) == 2
    admin = Recorded(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "admin",
        {"role": "x", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        {},
        "admin",
    )
    assert violations(policies.no_iam_wildcards, resource_args(admin)) == [
        "admin attaches the admin policy arn:aws:iam::aws:policy/AdministratorAccess"
    ]


def test_table_without_pitr_is_refused(aws: Stack) -> None:
    found = run_all(policies.dynamodb_pitr, aws, {"calendar": {"pointInTimeRecovery": {"enabled": False}}})
    assert found == ["DynamoDB table gpi-prod-race-calendar needs point-in-time recovery"]


def test_log_group_without_retention_is_refused(aws: Stack) -> None:
    found = run_all(policies.log_retention, aws, {"loader-logs": {"retentionInDays": 0}})
    assert found[0] == "log group /aws/lambda/gpi-prod-loader keeps logs forever: set retentionInDays"
    assert "Lambda gpi-prod-loader logs to /aws/lambda/gpi-prod-loader" in found[1]
    unmanaged = run_all(policies.log_retention, aws, drop="ingestion-logs")
    assert unmanaged == [
        "Lambda gpi-prod-ingestion logs to /aws/lambda/gpi-prod-ingestion, which has no managed retention"
    ]


def test_schedule_without_dlq_is_refused(aws: Stack) -> None:
    schedule = aws.one("aws:scheduler/schedule:Schedule", "scheduler-trigger")
    target = {k: v for k, v in schedule.inputs["target"].items() if k != "deadLetterConfig"}
    found = violations(policies.schedule_dlq, resource_args(schedule, target=target))
    assert found == ["schedule gpi-prod-scheduler-hourly has no dead-letter queue"]
    no_retry = {k: v for k, v in schedule.inputs["target"].items() if k != "retryPolicy"}
    assert violations(policies.schedule_dlq, resource_args(schedule, target=no_retry)) == [
        "schedule gpi-prod-scheduler-hourly has no retry policy"
    ]


def test_ecr_repository_without_scan_immutability_or_lifecycle_is_refused(aws: Stack) -> None:
    assert run_all(policies.ecr_repositories, aws, {"ingestion-repository": {"imageTagMutability": "MUTABLE"}}) == [
        "ECR repository gpi-prod-ingestion allows tags to be overwritten: set IMMUTABLE"
    ]
    no_scan = {"loader-repository": {"imageScanningConfiguration": {"scanOnPush": False}}}
    assert run_all(policies.ecr_repositories, aws, no_scan) == [
        "ECR repository gpi-prod-loader does not scan images on push"
    ]
    assert run_all(policies.ecr_repositories, aws, drop="loader-lifecycle") == [
        "ECR repository gpi-prod-loader has no lifecycle policy: old images would pile up"
    ]


def test_lambda_image_by_tag_is_refused(aws: Stack) -> None:
    function = aws.one("aws:lambda/function:Function", "ingestion")
    by_digest = function.inputs["imageUri"]
    assert violations(policies.lambda_images_by_digest, resource_args(function)) == []
    repository = by_digest.split("@")[0]
    for uri in (f"{repository}:latest", f"{repository}:latest@{by_digest.split('@')[1]}"):
        assert violations(policies.lambda_images_by_digest, resource_args(function, imageUri=uri)) == [
            f"Lambda gpi-prod-ingestion must use its image by digest, got {uri!r}"
        ]


@pytest.mark.parametrize("action", ["s3:Put*", "s3:*Object", "iam:*Role*", "s3:Get?bject", "*:*"])
def test_partial_wildcard_actions_are_refused(aws: Stack, action: str) -> None:
    policy = aws.one("aws:iam/rolePolicy:RolePolicy", "loader-policy")
    doc = policy.policy("policy")
    stmt = {"Effect": "Allow", "Action": [action], "Resource": ["arn:aws:s3:::gpi-prod-landing/x"]}
    bad = {**doc, "Statement": [*doc["Statement"], stmt]}
    found = violations(policies.no_iam_wildcards, resource_args(policy, policy=json.dumps(bad)))
    assert found == [f"loader-policy.policy: statement #{len(doc['Statement'])} allows the wildcard action {action!r}"]


@pytest.mark.parametrize(
    ("resource", "wildcard"),
    [
        ("arn:aws:s3:::*", True),
        ("arn:aws:s3:::gpi-*", True),
        ("arn:aws:s3:::*/manifests/x.json", True),
        ("arn:aws:iam::*:role/gpi-prod-loader", True),
        ("arn:*:sqs:eu-west-1:123456789012:gpi-prod-loader", True),
        ("arn:aws:iam::123456789012:role/*", True),
        ("arn:aws:dynamodb:eu-west-1:123456789012:*", True),
        ("arn:aws:s3:::gpi-prod-landing/*", False),
        ("arn:aws:s3:::gpi-prod-landing/manifests/*", False),
        ("arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/gpi-prod-loader:*", False),
        ("arn:aws:scheduler:eu-west-1:123456789012:schedule/gpi-prod-ingestion/*", False),
        ("arn:aws:sqs:eu-west-1:123456789012:gpi-prod-loader", False),
    ],
)
def test_wildcard_resources_are_told_from_scoped_ones(resource: str, wildcard: bool) -> None:
    assert policies.wildcard_resource(resource) is wildcard
    doc = {"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [resource]}]}
    assert bool(policies.wildcard_problems(doc)) is wildcard
