"""The landing bucket: private, encrypted, versioned, with lifecycle rules and S3 -> SQS event notifications."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pulumi
import pulumi_aws as aws

from f1common.layout import DATA_PREFIX, MANIFEST_PREFIX, ORPHAN_EXPIRY_DAYS, PENDING, PUBLICATION_TAG
from gpi_infra import iam

OBJECT_CREATED = "s3:ObjectCreated:*"

_Setting = TypeVar("_Setting", bound=pulumi.CustomResource)


@dataclass(frozen=True)
class QueueNotification:
    """Send `s3:ObjectCreated:*` events for keys under each of `prefixes` to a queue.

    `queue_url` is set for queues this stack owns: the component then attaches a queue policy that lets
    this bucket (and only it) send to the queue. Queues owned elsewhere (Snowpipe's) manage their own policy.
    """

    name: str
    queue_arn: pulumi.Input[str]
    prefixes: tuple[str, ...]
    queue_url: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class LandingBucketArgs:
    bucket_name: str
    notifications: Sequence[QueueNotification] = field(default_factory=tuple)
    ia_after_days: int = 30
    expire_after_days: int = 365
    noncurrent_expire_after_days: int = 30
    abort_multipart_after_days: int = 7
    force_destroy: bool = False
    eventbridge: bool = False


class LandingBucket(pulumi.ComponentResource):
    bucket: aws.s3.Bucket

    def __init__(self, name: str, args: LandingBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpi:aws:LandingBucket", name, None, opts)
        prefixes = [p for n in args.notifications for p in n.prefixes]
        if len(set(prefixes)) != len(prefixes):
            raise ValueError(f"S3 notifications must not overlap: duplicate prefixes in {prefixes}")
        child = pulumi.ResourceOptions(parent=self)

        self.bucket = aws.s3.Bucket(name, bucket=args.bucket_name, force_destroy=args.force_destroy, opts=child)
        self.public_access_block = self._setting(
            aws.s3.BucketPublicAccessBlock,
            f"{name}-public-access-block",
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )
        self.ownership = self._setting(
            aws.s3.BucketOwnershipControls,
            f"{name}-ownership",
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        )
        self.encryption = self._setting(
            aws.s3.BucketServerSideEncryptionConfiguration,
            f"{name}-encryption",
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    ),
                    bucket_key_enabled=True,
                )
            ],
        )
        self.versioning = self._setting(
            aws.s3.BucketVersioning,
            f"{name}-versioning",
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
        )
        # Every run writes new keys (the run id is in the file name), so "old runs" are old objects: move
        # them to infrequent access, expire them, and drop overwritten/deleted versions after a grace period.
        self.lifecycle = self._setting(
            aws.s3.BucketLifecycleConfiguration,
            f"{name}-lifecycle",
            rules=[*(self._old_runs_rule(prefix, args) for prefix in (DATA_PREFIX, MANIFEST_PREFIX)), _orphans_rule()],
            depends_on=[self.versioning],
        )

        policies: list[pulumi.Resource] = []
        for note in args.notifications:
            if note.queue_url is None:
                continue
            policies.append(
                aws.sqs.QueuePolicy(
                    f"{name}-to-{note.name}",
                    queue_url=note.queue_url,
                    policy=self._send_from_bucket_policy(note.queue_arn),
                    opts=child,
                )
            )
        self.notification: aws.s3.BucketNotification | None = None
        if args.notifications:
            self.notification = self._setting(
                aws.s3.BucketNotification,
                f"{name}-notifications",
                queues=[
                    aws.s3.BucketNotificationQueueArgs(
                        id=f"{note.name}-{prefix.rstrip('=/')}",
                        queue_arn=note.queue_arn,
                        events=[OBJECT_CREATED],
                        filter_prefix=prefix,
                    )
                    for note in args.notifications
                    for prefix in note.prefixes
                ],
                # Every event also to EventBridge, whose rules route what they match (landed manifests ->
                # the transformer queue) without overlapping the queue notifications' prefixes.
                eventbridge=args.eventbridge,
                # S3 checks it may send to each queue when the configuration is written.
                depends_on=[self.bucket, *policies],
            )
        self.register_outputs({"bucket": self.bucket.bucket, "arn": self.bucket.arn})

    def _setting(
        self,
        resource: Callable[..., _Setting],
        name: str,
        *,
        depends_on: Sequence[pulumi.Resource] | None = None,
        **props: Any,
    ) -> _Setting:
        """A setting of the bucket (a resource naming it in `bucket`), declared after the bucket or `depends_on`."""
        return resource(
            name,
            bucket=self.bucket.id,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on or [self.bucket])),
            **props,
        )

    def _old_runs_rule(self, prefix: str, args: LandingBucketArgs) -> aws.s3.BucketLifecycleConfigurationRuleArgs:
        return aws.s3.BucketLifecycleConfigurationRuleArgs(
            id=f"old-runs-{prefix.rstrip('=/')}",
            status="Enabled",
            filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=prefix),
            transitions=[
                aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                    days=args.ia_after_days, storage_class="STANDARD_IA"
                )
            ],
            expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=args.expire_after_days),
            noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=args.noncurrent_expire_after_days
            ),
            abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=args.abort_multipart_after_days
            ),
        )

    def _send_from_bucket_policy(self, queue_arn: pulumi.Input[str]) -> pulumi.Output[str]:
        return iam.policy_document(
            [
                {
                    "Sid": "S3Events",
                    "Effect": "Allow",
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": self.bucket.arn}},
                }
            ]
        )


def _orphans_rule() -> aws.s3.BucketLifecycleConfigurationRuleArgs:
    """Data files still tagged pending (their run died or lost its claim before publishing its manifest, see
    ``f1common.layout.PUBLICATION_TAG``) expire after ORPHAN_EXPIRY_DAYS: no orphan stays in the landing zone."""
    return aws.s3.BucketLifecycleConfigurationRuleArgs(
        id="expire-unpublished-run-files",
        status="Enabled",
        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(
            and_=aws.s3.BucketLifecycleConfigurationRuleFilterAndArgs(
                prefix=DATA_PREFIX, tags={PUBLICATION_TAG: PENDING}
            )
        ),
        expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=ORPHAN_EXPIRY_DAYS),
        noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
            noncurrent_days=1
        ),
    )
