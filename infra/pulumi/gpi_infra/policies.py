"""CrossGuard policies of the Grand Prix Insights stacks (pulumi-policy).

Kept in a module so tests can call each policy's `validate` on mocked resources; `policy_pack/__main__.py`
builds the PolicyPack from `POLICIES`. Properties are the engine's camelCase names, as Pulumi passes them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy import Policy, PolicyResource, ReportViolation, ResourceValidationArgs, StackValidationArgs

from gpi_infra.crossguard import as_list, display_name, of_type, resource_policy, stack_policy
from gpi_infra.iam import UNSCOPED_ACTIONS

BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
BUCKET_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
QUEUE = "aws:sqs/queue:Queue"
TABLE = "aws:dynamodb/table:Table"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
FUNCTION = "aws:lambda/function:Function"
SCHEDULE = "aws:scheduler/schedule:Schedule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
REPOSITORY = "aws:ecr/repository:Repository"
LIFECYCLE_POLICY = "aws:ecr/lifecyclePolicy:LifecyclePolicy"

PUBLIC_ACL = {"public-read", "public-read-write", "authenticated-read"}
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
SSE_ALGORITHMS = {"AES256", "aws:kms", "aws:kms:dsse"}
ADMIN_MANAGED_POLICIES = {"arn:aws:iam::aws:policy/AdministratorAccess", "arn:aws:iam::aws:policy/PowerUserAccess"}
# Resource type -> properties holding IAM policy documents (JSON text or objects).
POLICY_DOCUMENTS: Mapping[str, tuple[str, ...]] = {
    "aws:iam/rolePolicy:RolePolicy": ("policy",),
    "aws:iam/policy:Policy": ("policy",),
    "aws:iam/userPolicy:UserPolicy": ("policy",),
    "aws:iam/groupPolicy:GroupPolicy": ("policy",),
    "aws:sqs/queuePolicy:QueuePolicy": ("policy",),
    "aws:sns/topicPolicy:TopicPolicy": ("policy",),
    BUCKET_POLICY: ("policy",),
}


def _by_bucket(resources: Iterable[PolicyResource], resource_type: str) -> dict[str, list[PolicyResource]]:
    found: dict[str, list[PolicyResource]] = {}
    for r in of_type(resources, resource_type):
        if r.props.get("bucket"):
            found.setdefault(str(r.props["bucket"]), []).append(r)
    return found


def _buckets(resources: Iterable[PolicyResource]) -> Iterator[tuple[str, PolicyResource]]:
    for r in of_type(resources, BUCKET):
        yield str(r.props.get("bucket") or r.props.get("id") or r.name), r


def _document(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return dict(json.loads(value))
    return dict(value or {})


def _statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(s) for s in as_list(document.get("Statement"))]


# --- no public buckets -------------------------------------------------------------------------------


@stack_policy(
    "s3-no-public-buckets",
    "Every S3 bucket blocks public access (all four flags), has no public ACL and no public policy.",
)
def no_public_buckets(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    blocks = _by_bucket(args.resources, PUBLIC_ACCESS_BLOCK)
    policies = _by_bucket(args.resources, BUCKET_POLICY)
    for bucket, resource in _buckets(args.resources):
        if str(resource.props.get("acl") or "") in PUBLIC_ACL:
            report_violation(f"bucket {bucket} has the public ACL {resource.props['acl']!r}", resource.urn)
        pabs = blocks.get(bucket, [])
        if not any(all(p.props.get(flag) is True for flag in PUBLIC_ACCESS_FLAGS) for p in pabs):
            report_violation(
                f"bucket {bucket} needs a BucketPublicAccessBlock with {', '.join(PUBLIC_ACCESS_FLAGS)} all true",
                resource.urn,
            )
        for policy in policies.get(bucket, []):
            for stmt in _statements(_document(policy.props.get("policy"))):
                principal = stmt.get("Principal")
                public = principal == "*" or (isinstance(principal, dict) and "*" in as_list(principal.get("AWS")))
                if stmt.get("Effect") == "Allow" and public and not stmt.get("Condition"):
                    report_violation(f"bucket policy of {bucket} allows anyone: {stmt}", policy.urn)


# --- encryption ----------------------------------------------------------------------------------------


@stack_policy(
    "encryption-at-rest",
    "Every S3 bucket has default SSE (AES256 or KMS); every SQS queue is encrypted (SQS-managed or KMS).",
)
def encryption_at_rest(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    configs = _by_bucket(args.resources, BUCKET_ENCRYPTION)
    for bucket, resource in _buckets(args.resources):
        algorithms = {
            str((rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm"))
            for config in configs.get(bucket, [])
            for rule in as_list(config.props.get("rules"))
        }
        if not algorithms & SSE_ALGORITHMS:
            report_violation(
                f"bucket {bucket} has no default server-side encryption ({sorted(SSE_ALGORITHMS)})", resource.urn
            )
    for r in of_type(args.resources, QUEUE):
        if not (r.props.get("sqsManagedSseEnabled") or r.props.get("kmsMasterKeyId")):
            report_violation(f"SQS queue {display_name(r.props, r.name)} is not encrypted", r.urn)


# --- versioning ----------------------------------------------------------------------------------------


@stack_policy("s3-versioning", "Every S3 bucket has versioning enabled.")
def bucket_versioning(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    versioning = _by_bucket(args.resources, BUCKET_VERSIONING)
    for bucket, resource in _buckets(args.resources):
        statuses = {
            str((v.props.get("versioningConfiguration") or {}).get("status")) for v in versioning.get(bucket, [])
        }
        if "Enabled" not in statuses:
            report_violation(f"bucket {bucket} needs a BucketVersioning with status Enabled", resource.urn)


# --- IAM: no wildcards ---------------------------------------------------------------------------------


def wildcard_resource(resource: str) -> bool:
    """Whether a resource grants more than named resources: `*`, or an ARN with a wildcard anywhere but in a
    trailing object path of a named bucket or log group (`arn:aws:s3:::gpi-prod-landing/*` is scoped;
    `arn:aws:s3:::*`, `arn:aws:s3:::gpi-*`, `arn:aws:iam::*:role/x`, `arn:*:sqs:...` are not)."""
    if "*" not in resource and "?" not in resource:
        return False
    parts = resource.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return True
    if any("*" in p or "?" in p for p in parts[1:5]):  # partition, service, region, account
        return True
    name, slash, path = parts[5].partition("/")
    if parts[2] == "s3":  # bucket[/object path]: a wildcard in the object path of one named bucket is scoped
        return "*" in name or "?" in name or not slash
    head = parts[5].split("*", 1)[0].split("?", 1)[0]
    return "/" not in head.rstrip("/") and ":" not in head.rstrip(":")  # nothing named before the wildcard


def wildcard_problems(document: Mapping[str, Any]) -> list[str]:
    """What is wrong with a policy document: actions with a wildcard anywhere (`*`, `s3:*`, `s3:Put*`,
    `s3:*Object`, `iam:*Role*`), wildcard resources (:func:`wildcard_resource`; `*` is allowed only for
    actions AWS cannot scope), `NotAction` / `NotResource`."""
    problems = []
    for i, stmt in enumerate(_statements(document)):
        sid = stmt.get("Sid") or f"#{i}"
        if stmt.get("Effect", "Allow") != "Allow":
            continue
        for key in ("NotAction", "NotResource"):
            if key in stmt:
                problems.append(f"statement {sid} uses {key}")
        actions = [str(a) for a in as_list(stmt.get("Action"))]
        for action in actions:
            if "*" in action or "?" in action:
                problems.append(f"statement {sid} allows the wildcard action {action!r}")
        resources = [str(r) for r in as_list(stmt.get("Resource"))]
        if "*" in resources and not set(actions) <= UNSCOPED_ACTIONS:
            scoped = sorted(set(actions) - UNSCOPED_ACTIONS)
            problems.append(f"statement {sid} grants {scoped} on every resource ('*')")
        for resource in resources:
            if resource != "*" and wildcard_resource(resource):
                problems.append(f"statement {sid} grants {sorted(actions)} on the wildcard resource {resource!r}")
    return problems


@resource_policy(
    "iam-no-wildcards",
    (
        "IAM and resource policies grant no action with a wildcard ('*', 's3:*', 's3:Put*', 's3:*Object'), no "
        "wildcard resources ('arn:aws:s3:::*'; '*' only for actions without resource-level permissions: "
        f"{sorted(UNSCOPED_ACTIONS)}; object paths of one named bucket are scoped), and no admin managed policies."
    ),
)
def no_iam_wildcards(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == "aws:iam/rolePolicyAttachment:RolePolicyAttachment":
        if args.props.get("policyArn") in ADMIN_MANAGED_POLICIES:
            report_violation(f"{args.name} attaches the admin policy {args.props['policyArn']}", None)
        return
    documents: list[tuple[str, Any]] = [
        (key, args.props.get(key)) for key in POLICY_DOCUMENTS.get(args.resource_type, ())
    ]
    if args.resource_type == "aws:iam/role:Role":
        documents += [
            (f"inlinePolicies[{p.get('name')}]", p.get("policy")) for p in as_list(args.props.get("inlinePolicies"))
        ]
    for key, value in documents:
        if not value:
            continue
        for problem in wildcard_problems(_document(value)):
            report_violation(f"{args.name}.{key}: {problem}", None)


# --- DynamoDB PITR -------------------------------------------------------------------------------------


@resource_policy("dynamodb-pitr", "Every DynamoDB table has point-in-time recovery enabled.")
def dynamodb_pitr(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != TABLE:
        return
    if (args.props.get("pointInTimeRecovery") or {}).get("enabled") is not True:
        report_violation(f"DynamoDB table {display_name(args.props, args.name)} needs point-in-time recovery", None)


# --- log retention -------------------------------------------------------------------------------------


@stack_policy(
    "log-retention",
    "Every log group has a retention period, and every Lambda logs to such a log group of this stack.",
)
def log_retention(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    retained: set[str] = set()
    for r in of_type(args.resources, LOG_GROUP):
        days = r.props.get("retentionInDays")
        if not days or int(days) <= 0:
            report_violation(
                f"log group {display_name(r.props, r.name)} keeps logs forever: set retentionInDays", r.urn
            )
        else:
            retained.add(str(r.props.get("name")))
    for r in of_type(args.resources, FUNCTION):
        name = display_name(r.props, r.name)
        group = (r.props.get("loggingConfig") or {}).get("logGroup") or f"/aws/lambda/{name}"
        if group not in retained:
            report_violation(f"Lambda {name} logs to {group}, which has no managed retention", r.urn)


# --- schedules have a DLQ ------------------------------------------------------------------------------


@resource_policy(
    "schedule-dlq",
    "Every EventBridge schedule (and event rule target) has a dead-letter queue and a retry policy.",
)
def schedule_dlq(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == SCHEDULE:
        target, name = args.props.get("target") or {}, display_name(args.props, args.name)
        if not (target.get("deadLetterConfig") or {}).get("arn"):
            report_violation(f"schedule {name} has no dead-letter queue", None)
        if not target.get("retryPolicy"):
            report_violation(f"schedule {name} has no retry policy", None)
    elif args.resource_type == EVENT_TARGET and not (args.props.get("deadLetterConfig") or {}).get("arn"):
        report_violation(f"event target {args.name} has no dead-letter queue", None)


# --- container images ------------------------------------------------------------------------------------


@stack_policy(
    "ecr-repositories",
    "Every ECR repository scans images on push, has immutable tags and a lifecycle policy.",
)
def ecr_repositories(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    lifecycles = {str(r.props.get("repository")) for r in of_type(args.resources, LIFECYCLE_POLICY)}
    for r in of_type(args.resources, REPOSITORY):
        name = display_name(r.props, r.name)
        if (r.props.get("imageScanningConfiguration") or {}).get("scanOnPush") is not True:
            report_violation(f"ECR repository {name} does not scan images on push", r.urn)
        if r.props.get("imageTagMutability") != "IMMUTABLE":
            report_violation(f"ECR repository {name} allows tags to be overwritten: set IMMUTABLE", r.urn)
        if name not in lifecycles:
            report_violation(f"ECR repository {name} has no lifecycle policy: old images would pile up", r.urn)


@resource_policy(
    "lambda-image-by-digest",
    "Every container-image Lambda names its image as repository@sha256:digest (no tag that can move).",
)
def lambda_images_by_digest(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != FUNCTION or args.props.get("packageType") != "Image":
        return
    uri = str(args.props.get("imageUri") or "")
    if "@sha256:" not in uri or ":" in uri.split("@", 1)[0].rsplit("/", 1)[-1]:
        report_violation(
            f"Lambda {display_name(args.props, args.name)} must use its image by digest, got {uri!r}", None
        )


POLICIES: list[Policy] = [
    no_public_buckets,
    encryption_at_rest,
    bucket_versioning,
    no_iam_wildcards,
    dynamodb_pitr,
    log_retention,
    schedule_dlq,
    ecr_repositories,
    lambda_images_by_digest,
]
