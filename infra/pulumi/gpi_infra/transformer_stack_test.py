"""The transformer's wiring in the AWS stack (under Pulumi mocks): its component (queue and dead-letter queue, the
landed-manifest rule, the safety schedule, the debounced single-concurrency trigger, its image), the Snowflake
identity and key, and the alarms."""

from __future__ import annotations

import json

import pytest
from pulumi.runtime import rpc

from f1common import metrics as metric
from f1common.names import ResourceNames
from f1common.transform import SCHEDULED, TRANSFORMER_STATE_PREFIX, manifest_landed_pattern
from gpi_infra import policies
from gpi_infra.aws_stack import SnowflakeOutputs, aws_program
from gpi_infra.config import AWS_PROJECT, AwsStackConfig
from gpi_infra.services import TransformerService, service_target
from gpi_infra.snowflake_stack import object_names
from gpi_infra.testing import (
    TRANSFORMER_PRIVATE_KEY,
    Stack,
    packages_for,
    resource_args,
    run_program,
    snowflake_outputs,
    violations,
    with_packages,
)

NAMES = ResourceNames.for_stage("dev")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    cfg = with_packages(
        AwsStackConfig(stage="dev", snowflake_stack="acme/gpi-snowflake/dev"), tmp_path_factory.mktemp("dist")
    )
    return run_program(lambda: aws_program(cfg, snowflake_outputs(), packages_for(cfg)), project=AWS_PROJECT)


def _function(stack: Stack) -> dict[str, object]:
    return next(
        f.inputs
        for f in stack.of_type("aws:lambda/function:Function")
        if f.inputs["name"] == NAMES.transformer_function
    )


def test_landed_manifests_and_the_safety_schedule_reach_the_queue(stack: Stack) -> None:
    queues = {q.inputs["name"]: q for q in stack.of_type("aws:sqs/queue:Queue")}
    assert {NAMES.transformer_queue, f"{NAMES.transformer_queue}-dlq"} <= set(queues)
    redrive = json.loads(queues[NAMES.transformer_queue].inputs["redrivePolicy"])
    assert redrive["maxReceiveCount"] == 5 and redrive["deadLetterTargetArn"].endswith(f"{NAMES.transformer_queue}-dlq")
    assert queues[NAMES.transformer_queue].inputs["visibilityTimeoutSeconds"] == 6 * 900
    bucket_notes = stack.one("aws:s3/bucketNotification:BucketNotification").inputs
    assert bucket_notes["eventbridge"] is True
    rule = next(
        r for r in stack.of_type("aws:cloudwatch/eventRule:EventRule") if r.inputs["name"] == NAMES.manifest_landed_rule
    )
    assert json.loads(rule.inputs["eventPattern"]) == manifest_landed_pattern(NAMES.landing_bucket)
    [target] = [
        t
        for t in stack.of_type("aws:cloudwatch/eventTarget:EventTarget")
        if t.inputs["rule"] == NAMES.manifest_landed_rule
    ]
    assert target.inputs["arn"].endswith(f":{NAMES.transformer_queue}")
    assert target.inputs["deadLetterConfig"]["arn"].endswith(f":{NAMES.transformer_queue}-dlq")
    queue_policies = [json.loads(p.inputs["policy"]) for p in stack.of_type("aws:sqs/queuePolicy:QueuePolicy")]
    granted = {}
    for policy in queue_policies:
        [grant] = policy["Statement"]
        assert grant["Principal"] == {"Service": "events.amazonaws.com"} and grant["Action"] == ["sqs:SendMessage"]
        assert set(grant["Condition"]["ArnEquals"]) == {"aws:SourceArn"}  # the rule's ARN (unknown under mocks)
        granted[grant["Resource"][0].rsplit(":", 1)[1]] = grant
    # the rule may send to the queue and, when it cannot deliver there, to the dead-letter queue
    assert {NAMES.transformer_queue, f"{NAMES.transformer_queue}-dlq"} <= set(granted)
    safety = next(
        s
        for s in stack.of_type("aws:scheduler/schedule:Schedule")
        if s.inputs["name"] == f"{NAMES.transformer_function}-safety"
    )
    assert safety.inputs["scheduleExpression"] == "rate(1 hour)"
    assert safety.inputs["target"]["arn"].endswith(f":{NAMES.transformer_queue}")
    assert json.loads(safety.inputs["target"]["input"]) == SCHEDULED.model_dump()
    assert safety.inputs["target"]["deadLetterConfig"]["arn"].endswith(f":{NAMES.transformer_queue}-dlq")


def test_one_debounced_build_at_a_time_from_its_image(stack: Stack) -> None:
    function = _function(stack)
    assert function["reservedConcurrentExecutions"] == 1
    assert function["packageType"] == "Image" and "@sha256:" in str(function["imageUri"])
    assert (function["memorySize"], function["timeout"]) == (2048, 900)
    mapping = next(
        m
        for m in stack.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")
        if m.inputs["eventSourceArn"].endswith(f":{NAMES.transformer_queue}")
    )
    assert mapping.inputs["maximumBatchingWindowInSeconds"] == 60 and mapping.inputs["batchSize"] == 100
    assert mapping.inputs["functionResponseTypes"] == ["ReportBatchItemFailures"]
    # the other services' functions share the unreserved pool
    others = [
        f.inputs
        for f in stack.of_type("aws:lambda/function:Function")
        if f.inputs["name"] != NAMES.transformer_function
    ]
    assert others and all(f.get("reservedConcurrentExecutions") is None for f in others)


def test_its_resources_are_its_components_and_pass_the_policy_pack(stack: Stack) -> None:
    """`pulumi up --target` the transformer deploys its queue, routes, function and image, and nothing else."""
    prefix = service_target(TransformerService.TYPE, stack="dev").removesuffix("**")
    mine = {urn.rsplit("::", 1)[1] for urn in stack.urns if urn.startswith(prefix)}
    assert {
        "transformer",
        "transformer-queue",
        "transformer-queue-dlq",
        "transformer-manifest-landed",
        "transformer-manifest-landed-target",
        "transformer-safety",
        "transformer-events",
        "transformer-repository",
        "transformer-image",
    } <= mine
    assert "snowflake-transformer-key" not in mine  # shared: the key outlives a redeploy of the service
    for resource in stack.resources:
        if resource.name.startswith("transformer"):
            for policy in (policies.schedule_dlq, policies.no_iam_wildcards, policies.lambda_images_by_digest):
                assert not violations(policy, resource_args(resource)), (resource.name, policy.name)


def test_the_function_is_the_snowflake_stacks_transformer(stack: Stack) -> None:
    """dbt's prod target reads these (services/transformer/transformer/profile_test.py): the transformer's user,
    role and warehouse of the stage, as the Snowflake stack names and outputs them, and its generated key."""
    env = _function(stack)["environment"]["variables"]  # type: ignore[index]
    objects = object_names("dev")
    assert {k: env[k] for k in env if k.startswith("GPI_SNOWFLAKE_") and not k.endswith("SECRET_ID")} == {
        "GPI_SNOWFLAKE_ACCOUNT": "ACME-GPI",
        "GPI_SNOWFLAKE_USER": objects["transformer_user"],
        "GPI_SNOWFLAKE_ROLE": objects["transformer_role"],
        "GPI_SNOWFLAKE_WAREHOUSE": objects["transform_warehouse"],
        "GPI_SNOWFLAKE_DATABASE": NAMES.warehouse_database,
    }
    assert env["GPI_WAREHOUSE"] == "snowflake" and env["GPI_LANDING_BUCKET"] == NAMES.landing_bucket
    names = set(SnowflakeOutputs.output_names())
    assert {"transformer_user", "transformer_role", "transform_warehouse", "transformer_private_key"} <= names
    secret = stack.named("snowflake-transformer-key").inputs
    assert secret["name"] == "gpi-dev/snowflake/transformer-private-key"
    assert ":secret:gpi-dev/snowflake/transformer-private-key" in env["GPI_SNOWFLAKE_PRIVATE_KEY_SECRET_ID"]
    value = stack.named("snowflake-transformer-key-value").inputs
    # the Snowflake stack's secret output reaches the engine encrypted, never as plain state
    assert value["secretString"] == {rpc._special_sig_key: rpc._special_secret_sig, "value": TRANSFORMER_PRIVATE_KEY}
    role = next(
        p
        for p in stack.of_type("aws:iam/rolePolicy:RolePolicy")
        if p.inputs["name"] == f"{NAMES.transformer_function}-access"
    )
    grants = {a: set(s["Resource"]) for s in role.policy("policy")["Statement"] for a in s["Action"]}
    assert grants["s3:PutObject"] == {f"arn:aws:s3:::{NAMES.landing_bucket}/{TRANSFORMER_STATE_PREFIX}*"}
    assert grants["secretsmanager:GetSecretValue"] == {env["GPI_SNOWFLAKE_PRIVATE_KEY_SECRET_ID"]}
    assert "s3:DeleteObject" not in grants and "sqs:SendMessage" not in grants


def test_failures_staleness_and_load_health_alarm(stack: Stack) -> None:
    alarms = {a.inputs["name"]: a.inputs for a in stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    p = "gpi-dev"
    assert alarms[f"{p}-transform-failed"]["metricName"] == metric.TRANSFORM_FAILED
    stale = alarms[f"{p}-marts-stale"]
    assert (stale["metricName"], stale["comparisonOperator"], stale["treatMissingData"]) == (
        metric.TRANSFORM_SUCCEEDED,
        "LessThanThreshold",
        "breaching",
    )
    assert stale["evaluationPeriods"] == 3 and stale["period"] == 3600
    assert alarms[f"{p}-sources-stale"]["metricName"] == metric.SOURCES_STALE
    assert alarms[f"{p}-transformer-dlq-depth"]["dimensions"] == {"QueueName": f"{NAMES.transformer_queue}-dlq"}
    assert alarms[f"{p}-transformer-errors"]["dimensions"] == {"FunctionName": NAMES.transformer_function}
    health = {a["metricName"] for a in alarms.values() if a.get("dimensions") == {"service": "loader"}}
    assert {
        metric.HEALTH_FILES_MISSING,
        metric.HEALTH_FILES_FAILED,
        metric.PIPES_NOT_RUNNING,
        metric.PIPE_PENDING_FILES,
        metric.FILES_QUARANTINED,
        metric.CALENDAR_ITEMS_INVALID,
    } <= health
