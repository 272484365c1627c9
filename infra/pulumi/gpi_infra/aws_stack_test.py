from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pulumi.runtime import rpc

from f1common import metrics as metric
from f1common.layout import DATA_PREFIX, MANIFEST_PREFIX, ORPHAN_EXPIRY_DAYS, PENDING, PUBLICATION_TAG
from f1common.names import CALENDAR_KEY, CALENDAR_TTL_ATTRIBUTE, METRICS_NAMESPACE, SERVICE_LOADER, ResourceNames
from f1common.settings import Settings
from f1common.warehouse import SNOWFLAKE_STATEMENT_TIMEOUT_SECONDS
from gpi_infra.aws_stack import aws_program
from gpi_infra.config import (
    AWS_PROJECT,
    ERGAST_DUMP_URL,
    LOADER_TIMEOUT_MARGIN_SECONDS,
    AwsStackConfig,
    snowflake_access_role_name,
)
from gpi_infra.iam import UNSCOPED_ACTIONS
from gpi_infra.testing import (
    ACCOUNT,
    LOADER_PRIVATE_KEY,
    REGION,
    SNOWFLAKE_EXTERNAL_ID,
    SNOWFLAKE_IAM_USER_ARN,
    SNOWPIPE_QUEUE_ARN,
    Recorded,
    Stack,
    packages_for,
    run_program,
    snowflake_outputs,
    with_packages,
)

NAMES = ResourceNames.for_stage("dev")
SCHEDULE = "aws:scheduler/schedule:Schedule"
BUCKET_ARN = f"arn:aws:s3:::{NAMES.landing_bucket}"
TABLE_ARN = f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/{NAMES.calendar_table}"
FUNCTIONS = {
    "scheduler": NAMES.scheduler_function,
    "ingestion": NAMES.ingestion_function,
    "loader": NAMES.loader_function,
    "transformer": NAMES.transformer_function,
}


def run_aws(cfg: AwsStackConfig, stack: str = "dev") -> Stack:
    return run_program(
        lambda: aws_program(cfg, snowflake_outputs(stack), packages_for(cfg)), project=AWS_PROJECT, stack=stack
    )


@pytest.fixture(scope="module")
def packages_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dist")


@pytest.fixture(scope="module")
def stack(packages_dir: Path) -> Stack:
    cfg = AwsStackConfig(stage="dev", snowflake_stack="acme/gpi-snowflake/dev", alarm_email="ops@example.com")
    return run_aws(with_packages(cfg, packages_dir))


def statements(resource: Recorded, key: str = "policy") -> list[dict[str, Any]]:
    return list(resource.policy(key)["Statement"])


def allowed(resource: Recorded) -> dict[str, set[str]]:
    """Action -> resources granted by an inline role policy."""
    grants: dict[str, set[str]] = {}
    for stmt in statements(resource):
        for action in stmt["Action"]:
            grants.setdefault(action, set()).update(stmt["Resource"])
    return grants


def test_names_come_from_f1common(stack: Stack) -> None:
    assert stack.one("aws:s3/bucket:Bucket").inputs["bucket"] == NAMES.landing_bucket
    assert stack.one("aws:dynamodb/table:Table").inputs["name"] == NAMES.calendar_table
    queues = {q.inputs["name"] for q in stack.of_type("aws:sqs/queue:Queue")}
    assert queues == {
        NAMES.loader_queue,
        f"{NAMES.loader_queue}-dlq",
        NAMES.ingestion_dlq,
        NAMES.transformer_queue,
        f"{NAMES.transformer_queue}-dlq",
    }
    functions = {f.inputs["name"] for f in stack.of_type("aws:lambda/function:Function")}
    assert functions == {
        NAMES.scheduler_function,
        NAMES.ingestion_function,
        NAMES.loader_function,
        f"{NAMES.loader_function}-health",
        NAMES.transformer_function,
    }
    assert stack.one("aws:scheduler/scheduleGroup:ScheduleGroup").inputs["name"] == NAMES.schedule_group
    assert stack.outputs["landing_bucket"] == NAMES.landing_bucket
    assert stack.outputs["calendar_table"] == NAMES.calendar_table
    assert stack.outputs["ingestion_function"] == NAMES.ingestion_function
    assert stack.outputs["loader_queue_arn"] == f"arn:aws:sqs:eu-west-1:{ACCOUNT}:{NAMES.loader_queue}"


def test_bucket_is_private_encrypted_versioned_with_lifecycle(stack: Stack) -> None:
    pab = stack.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert pab["bucket"] == NAMES.landing_bucket
    for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
        assert pab[flag] is True, flag
    sse = stack.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").inputs
    assert sse["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    versioning = stack.one("aws:s3/bucketVersioning:BucketVersioning").inputs
    assert versioning["versioningConfiguration"]["status"] == "Enabled"
    rules = stack.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
    orphans = [r for r in rules if "and" in r["filter"]]
    assert orphans == [
        {
            "id": "expire-unpublished-run-files",
            "status": "Enabled",
            "filter": {"and": {"prefix": DATA_PREFIX, "tags": {PUBLICATION_TAG: PENDING}}},
            "expiration": {"days": ORPHAN_EXPIRY_DAYS},
            "noncurrentVersionExpiration": {"noncurrentDays": 1},
        }
    ]  # the files of a run that never published expire
    rules = [r for r in rules if r not in orphans]
    assert {r["filter"]["prefix"] for r in rules} == {DATA_PREFIX, MANIFEST_PREFIX}
    for rule in rules:
        assert rule["status"] == "Enabled"
        assert rule["expiration"]["days"] == 365
        assert rule["transitions"] == [{"days": 30, "storageClass": "STANDARD_IA"}]
        assert rule["noncurrentVersionExpiration"]["noncurrentDays"] == 30


def test_data_files_go_to_snowpipe_by_default(stack: Stack) -> None:
    queues = stack.one("aws:s3/bucketNotification:BucketNotification").inputs["queues"]
    # Cross-stack wiring: data files and manifests go to the queue the Snowflake pipes listen on, and nowhere
    # else, so the loader never loads what Snowpipe loads.
    assert [(q["filterPrefix"], q["queueArn"], q["events"]) for q in queues] == [
        (DATA_PREFIX, SNOWPIPE_QUEUE_ARN, ["s3:ObjectCreated:*"]),
        (MANIFEST_PREFIX, SNOWPIPE_QUEUE_ARN, ["s3:ObjectCreated:*"]),
    ]
    # Snowflake owns its queue's policy; the only ones here are the transformer's (EventBridge may send)
    assert {p.name for p in stack.of_type("aws:sqs/queuePolicy:QueuePolicy")} == {
        "transformer-queue-policy",
        "transformer-dlq-policy",
    }


def test_without_snowpipe_the_loader_gets_every_event(packages_dir: Path) -> None:
    cfg = AwsStackConfig(stage="dev", snowflake_stack="acme/gpi-snowflake/dev", load_with="loader")
    stack = run_aws(with_packages(cfg, packages_dir))
    queues = stack.one("aws:s3/bucketNotification:BucketNotification").inputs["queues"]
    loader_queue = stack.outputs["loader_queue_arn"]
    assert {(q["filterPrefix"], q["queueArn"]) for q in queues} == {
        (DATA_PREFIX, loader_queue),
        (MANIFEST_PREFIX, loader_queue),
    }
    assert SNOWPIPE_QUEUE_ARN not in str(queues)
    # The queue's policy lets exactly this bucket send.
    policy = stack.one("aws:sqs/queuePolicy:QueuePolicy", "landing-to-loader")
    [stmt] = statements(policy)
    assert stmt["Principal"] == {"Service": "s3.amazonaws.com"}
    assert stmt["Resource"] == loader_queue
    assert stmt["Condition"] == {"ArnEquals": {"aws:SourceArn": BUCKET_ARN}}


def test_calendar_table(stack: Stack) -> None:
    table = stack.one("aws:dynamodb/table:Table").inputs
    assert table["billingMode"] == "PAY_PER_REQUEST"
    assert table["hashKey"] == CALENDAR_KEY
    assert table["pointInTimeRecovery"] == {"enabled": True}
    assert table["ttl"] == {"attributeName": CALENDAR_TTL_ATTRIBUTE, "enabled": True}


def test_lambdas_code_runtime_and_sizing(stack: Stack) -> None:
    cfg = AwsStackConfig(stage="dev", snowflake_stack="o/p/s")
    for fn in stack.of_type("aws:lambda/function:Function"):
        service = fn.inputs["environment"]["variables"]["POWERTOOLS_SERVICE_NAME"]
        handler = "loader.handler.health_handler" if fn.name == "loader-health" else "lambda_function.handler"
        assert fn.inputs["packageType"] == cfg.functions[service].package_type.capitalize()
        if fn.inputs["packageType"] == "Zip":
            # AWS's managed python3.11 runtime runs the Pants zip as it is.
            assert (fn.inputs["runtime"], fn.inputs["handler"]) == ("python3.11", handler)
            assert fn.inputs["code"].path.endswith(f"services.{service}/lambda.zip")
            assert "imageUri" not in fn.inputs
        else:
            # The image's CMD is the handler; the entrypoint (the runtime interface client) is in the image.
            assert fn.inputs["imageConfig"] == {"commands": [handler]}
            assert "code" not in fn.inputs and "runtime" not in fn.inputs and "handler" not in fn.inputs
        assert fn.inputs["architectures"] == ["x86_64"]
        assert fn.inputs["loggingConfig"]["logGroup"] == f"/aws/lambda/{fn.inputs['name']}"
    ingestion = stack.one("aws:lambda/function:Function", "ingestion").inputs
    assert ingestion["memorySize"] >= 1024 and 300 <= ingestion["timeout"] <= 900
    loader_queue = stack.one("aws:sqs/queue:Queue", "loader-queue")
    loader = stack.one("aws:lambda/function:Function", "loader").inputs
    assert loader_queue.inputs["visibilityTimeoutSeconds"] >= loader["timeout"]


def test_each_image_service_has_its_repository_image_and_function_by_digest(stack: Stack) -> None:
    images = stack.of_type("docker-build:index:Image")
    repositories = {r.name: r for r in stack.of_type("aws:ecr/repository:Repository")}
    image_services = [
        s
        for s, f in AwsStackConfig(stage="dev", snowflake_stack="o/p/s").functions.items()
        if f.package_type == "image"
    ]
    assert sorted(i.name for i in images) == sorted(f"{s}-image" for s in image_services)
    for service in image_services:
        # Repository: named like the function, scanned on push, immutable tags, encrypted, with a lifecycle.
        repository = repositories[f"{service}-repository"]
        assert repository.inputs["name"] == FUNCTIONS[service]
        assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
        assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repository.inputs["encryptionConfigurations"] == [{"encryptionType": "AES256"}]
        assert repository.inputs["forceDelete"] is True  # dev; prod keeps its images (projects_test)
        lifecycle = stack.one("aws:ecr/lifecyclePolicy:LifecyclePolicy", f"{service}-lifecycle").inputs
        assert lifecycle["repository"] == FUNCTIONS[service]
        rules = json.loads(lifecycle["policy"])["rules"]
        assert [r["selection"]["tagStatus"] for r in rules] == ["untagged", "any"]
        assert rules[1]["selection"]["countNumber"] == 10
        # Image: built from the Pants package's directory with the shared Dockerfile, pushed to that repository
        # under the content fingerprint as its (immutable) tag, as one plain manifest Lambda accepts.
        image = stack.one("docker-build:index:Image", f"{service}-image").inputs
        url = repository.state["repositoryUrl"]
        [tag] = image["tags"]
        assert tag.startswith(f"{url}:") and len(tag.rsplit(":", 1)[1]) == 20
        assert image["context"]["location"].endswith(f"services.{service}")
        assert image["dockerfile"]["location"].endswith("build-support/lambda.Dockerfile")
        assert image["buildArgs"] == {"BASE_IMAGE": "public.ecr.aws/docker/library/python:3.11-slim-bookworm"}
        assert image["platforms"] == ["linux/amd64"]
        assert image["exports"] == [
            {
                "registry": {
                    "ociMediaTypes": False,
                    "compression": "gzip",
                    "compressionLevel": 0,
                    "forceCompression": False,
                    "push": True,
                    "store": True,
                }
            }
        ]
        [registry] = image["registries"]
        assert registry["address"] == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
        assert registry["username"] == "AWS"
        # Function: that repository's image by the digest the push reported.
        digest = stack.one("docker-build:index:Image", f"{service}-image").state["digest"]
        function = stack.one("aws:lambda/function:Function", service).inputs
        assert function["imageUri"] == f"{url}@{digest}"
        assert stack.outputs["images"][service] == function["imageUri"]
    assert stack.one("aws:lambda/function:Function", "loader-health").inputs["imageUri"] == (
        stack.one("aws:lambda/function:Function", "loader").inputs["imageUri"]
    )


def test_a_changed_package_changes_only_its_image(packages_dir: Path, tmp_path: Path) -> None:
    cfg = AwsStackConfig(stage="dev", snowflake_stack="acme/gpi-snowflake/dev")
    before = run_aws(with_packages(cfg, packages_dir))
    after = run_aws(with_packages(cfg, tmp_path, loader="v2"))
    uris = {
        s: {st.one("aws:lambda/function:Function", s).inputs["imageUri"] for st in (before, after)}
        for s in ("ingestion", "loader")
    }
    assert len(uris["loader"]) == 2 and len(uris["ingestion"]) == 1


def test_lambda_env_is_f1common_settings(stack: Stack) -> None:
    fields = {f"GPI_{name.upper()}" for name in Settings.model_fields}
    for fn in stack.of_type("aws:lambda/function:Function"):
        env = fn.inputs["environment"]["variables"]
        gpi = {k: v for k, v in env.items() if k.startswith("GPI_")}
        assert set(gpi) <= fields, set(gpi) - fields
        settings = Settings(**{k.removeprefix("GPI_").lower(): v for k, v in gpi.items()})
        assert settings.stage == "dev"
        assert settings.bucket == NAMES.landing_bucket
        assert settings.table == NAMES.calendar_table
        assert settings.queue == NAMES.loader_queue
        assert settings.dlq == NAMES.ingestion_dlq
        assert settings.group == NAMES.schedule_group
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == METRICS_NAMESPACE
    scheduler = Settings(
        **{
            k.removeprefix("GPI_").lower(): v
            for k, v in stack.one("aws:lambda/function:Function", "scheduler")
            .inputs["environment"]["variables"]
            .items()
            if k.startswith("GPI_")
        }
    )
    assert scheduler.ingestion_function_arn == stack.outputs["ingestion_function_arn"]
    assert scheduler.scheduler_role_arn == stack.outputs["scheduler_role_arn"]
    assert scheduler.ingestion_dlq_arn == stack.outputs["ingestion_dlq_arn"]
    loader_env = stack.one("aws:lambda/function:Function", "loader").inputs["environment"]["variables"]
    assert loader_env["GPI_WAREHOUSE"] == "snowflake"
    assert loader_env["GPI_SNOWFLAKE_USER"] == "GPI_DEV_LOADER_SVC"
    assert loader_env["GPI_SNOWFLAKE_PRIVATE_KEY_SECRET_ID"] == stack.outputs["snowflake_key_secret_arn"]


def role_policy(stack: Stack, function: str) -> Recorded:
    return stack.one("aws:iam/rolePolicy:RolePolicy", f"{function}-policy")


def test_ingestion_role_is_least_privilege(stack: Stack) -> None:
    grants = allowed(role_policy(stack, "ingestion"))
    assert grants == {
        "logs:CreateLogStream": {
            f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/lambda/{NAMES.ingestion_function}:*"
        },
        "logs:PutLogEvents": {f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/lambda/{NAMES.ingestion_function}:*"},
        "s3:GetObject": {f"{BUCKET_ARN}/*"},
        "s3:PutObject": {f"{BUCKET_ARN}/*"},
        "s3:PutObjectTagging": {f"{BUCKET_ARN}/*"},
        "s3:ListBucket": {BUCKET_ARN},
        "dynamodb:GetItem": {TABLE_ARN},
        "dynamodb:PutItem": {TABLE_ARN},
        "dynamodb:UpdateItem": {TABLE_ARN},
        "dynamodb:DeleteItem": {TABLE_ARN},
        "cloudwatch:PutMetricData": {"*"},
        "sqs:SendMessage": {stack.outputs["ingestion_dlq_arn"]},
    }
    [metrics] = [s for s in statements(role_policy(stack, "ingestion")) if s["Action"] == ["cloudwatch:PutMetricData"]]
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}}


def test_scheduler_role_is_least_privilege(stack: Stack) -> None:
    grants = allowed(role_policy(stack, "scheduler"))
    schedules = f"arn:aws:scheduler:eu-west-1:{ACCOUNT}:schedule/{NAMES.schedule_group}/*"
    for action in ("scheduler:CreateSchedule", "scheduler:GetSchedule", "scheduler:DeleteSchedule"):
        assert grants[action] == {schedules}
    assert grants["iam:PassRole"] == {stack.outputs["scheduler_role_arn"]}
    assert {a for a in grants if a.startswith("dynamodb:")} >= {"dynamodb:Scan", "dynamodb:UpdateItem"}
    assert all(grants[a] == {TABLE_ARN} for a in grants if a.startswith("dynamodb:"))
    assert not any(a.startswith(("s3:", "sqs:", "secretsmanager:")) for a in grants)


def test_loader_role_is_least_privilege(stack: Stack) -> None:
    grants = allowed(role_policy(stack, "loader"))
    assert grants["sqs:ReceiveMessage"] == grants["sqs:DeleteMessage"] == {stack.outputs["loader_queue_arn"]}
    assert grants["s3:GetObject"] == {f"{BUCKET_ARN}/*"}
    assert grants["s3:ListBucket"] == {BUCKET_ARN}
    assert grants["secretsmanager:GetSecretValue"] == {stack.outputs["snowflake_key_secret_arn"]}
    assert not any(a.startswith(("dynamodb:", "scheduler:")) or a == "s3:PutObject" for a in grants)


def test_wildcard_resources_only_for_unscoped_actions(stack: Stack) -> None:
    for policy in stack.of_type("aws:iam/rolePolicy:RolePolicy"):
        for stmt in statements(policy):
            if "*" in stmt["Resource"]:
                assert set(stmt["Action"]) <= UNSCOPED_ACTIONS, (policy.name, stmt)


def test_log_groups_have_retention(stack: Stack) -> None:
    groups = {g.inputs["name"]: g.inputs["retentionInDays"] for g in stack.of_type("aws:cloudwatch/logGroup:LogGroup")}
    functions = [*FUNCTIONS.values(), f"{NAMES.loader_function}-health"]
    assert groups == {f"/aws/lambda/{name}": 30 for name in functions}


def test_schedules_invoke_only_the_ingestion_and_dead_letter(stack: Stack) -> None:
    role = stack.one("aws:iam/role:Role", "ingestion-schedules-role")
    assert role.inputs["name"] == NAMES.ingestion_invoke_role
    [trust] = statements(role, "assumeRolePolicy")
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"]["ArnLike"]["aws:SourceArn"].endswith(f":schedule/{NAMES.schedule_group}/*")
    grants = allowed(stack.one("aws:iam/rolePolicy:RolePolicy", "ingestion-schedules-policy"))
    assert grants == {
        "lambda:InvokeFunction": {stack.outputs["ingestion_function_arn"]},
        "sqs:SendMessage": {stack.outputs["ingestion_dlq_arn"]},
    }


def test_recurring_triggers(stack: Stack) -> None:
    schedules = {s.inputs["name"]: s.inputs for s in stack.of_type("aws:scheduler/schedule:Schedule")}
    scheduler_arn = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:{NAMES.scheduler_function}"
    health_arn = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:{NAMES.loader_function}-health"
    ingestion_arn = stack.outputs["ingestion_function_arn"]
    sync = {"action": "sync", "seasons": [], "include_current": True}
    expected = {
        f"{NAMES.scheduler_function}-hourly": ("rate(1 hour)", scheduler_arn, {"action": "schedule"}),
        f"{NAMES.scheduler_function}-daily-sync": ("cron(0 6 * * ? *)", scheduler_arn, sync),
        f"{NAMES.ingestion_function}-daily-ergast": ("cron(0 7 * * ? *)", ingestion_arn, {"kind": "ergast_backfill"}),
        f"{NAMES.loader_function}-health-hourly": (
            "rate(1 hour)",
            health_arn,
            {"lookback_hours": 24, "grace_minutes": 30},
        ),
    }
    # and the transformer's safety run, which sends to its queue (transformer_stack_test.py)
    assert set(schedules) == {*expected, f"{NAMES.transformer_function}-safety"}
    for name, (expression, function_arn, event) in expected.items():
        schedule = schedules[name]
        assert schedule["scheduleExpression"] == expression
        assert schedule["groupName"] == "default"  # not the ingestion group the scheduler service manages
        target = schedule["target"]
        assert (target["arn"], json.loads(target["input"])) == (function_arn, event)
        assert target["deadLetterConfig"]["arn"] == stack.outputs["ingestion_dlq_arn"]
        assert target["retryPolicy"] == {"maximumRetryAttempts": 3, "maximumEventAgeInSeconds": 3600}
    grants = allowed(stack.one("aws:iam/rolePolicy:RolePolicy", "scheduler-trigger-policy"))
    assert grants == {"lambda:InvokeFunction": {scheduler_arn}, "sqs:SendMessage": {stack.outputs["ingestion_dlq_arn"]}}
    grants = allowed(stack.one("aws:iam/rolePolicy:RolePolicy", "ergast-backfill-trigger-policy"))
    assert grants == {"lambda:InvokeFunction": {ingestion_arn}, "sqs:SendMessage": {stack.outputs["ingestion_dlq_arn"]}}


def test_the_first_deploy_bootstraps_the_calendar_and_the_history(stack: Stack, packages_dir: Path) -> None:
    """One `pulumi up` and the calendar holds the configured seasons (whose syncs land their schedules) and
    the Ergast history is landed from the published dump the ingestion is configured with."""
    invocations = {r.name: r.inputs for r in stack.of_type("aws:lambda/invocation:Invocation")}
    assert set(invocations) == {"calendar-bootstrap", "ergast-bootstrap"}
    calendar, ergast = invocations["calendar-bootstrap"], invocations["ergast-bootstrap"]
    assert calendar["functionName"] == NAMES.scheduler_function
    assert json.loads(calendar["input"]) == {"action": "sync", "seasons": [], "include_current": True}
    assert ergast["functionName"] == NAMES.ingestion_function
    assert json.loads(ergast["input"]) == {"kind": "ergast_backfill"}
    ingestion_env = stack.one("aws:lambda/function:Function", "ingestion").inputs["environment"]["variables"]
    assert Settings(ergast_dump_url=ingestion_env["GPI_ERGAST_DUMP_URL"]).ergast_dump_url == ERGAST_DUMP_URL
    # The same events the daily triggers send: what the first deploy lands, every later day keeps current.
    daily = {s.inputs["name"]: json.loads(s.inputs["target"]["input"]) for s in stack.of_type(SCHEDULE)}
    assert daily[f"{NAMES.scheduler_function}-daily-sync"] == json.loads(calendar["input"])
    assert daily[f"{NAMES.ingestion_function}-daily-ergast"] == json.loads(ergast["input"])

    seasons = AwsStackConfig(stage="dev", snowflake_stack="acme/gpi-snowflake/dev", calendar_seasons=[2025, 2024, 2025])
    configured = run_aws(with_packages(seasons, packages_dir))
    bootstrap = configured.one("aws:lambda/invocation:Invocation", "calendar-bootstrap").inputs
    assert json.loads(bootstrap["input"]) == {"action": "sync", "seasons": [2024, 2025], "include_current": True}
    assert json.loads(bootstrap["triggers"]["event"]) == json.loads(bootstrap["input"])  # a new list: synced again


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("calendar_seasons", [1949], "outside 1950"),
        ("ergast_dump_url", "http://example.com/data.zip", "https"),
    ],
)
def test_bootstrap_config_is_checked(field: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AwsStackConfig(stage="dev", snowflake_stack="acme/gpi-snowflake/dev", **{field: value})


def test_the_loader_outlives_its_snowflake_statements() -> None:
    """A loader timeout that Snowflake's statement timeout could outlast is refused (the default leaves room)."""
    loader = AwsStackConfig(stage="dev", snowflake_stack="o/p/s").functions[SERVICE_LOADER]
    assert loader.timeout_seconds >= SNOWFLAKE_STATEMENT_TIMEOUT_SECONDS + LOADER_TIMEOUT_MARGIN_SECONDS
    short = SNOWFLAKE_STATEMENT_TIMEOUT_SECONDS + LOADER_TIMEOUT_MARGIN_SECONDS - 1
    with pytest.raises(ValueError, match=f"timeoutSeconds {short} is below"):
        AwsStackConfig.model_validate(
            {"stage": "dev", "snowflakeStack": "o/p/s", "functions": {SERVICE_LOADER: {"timeoutSeconds": short}}}
        )


def test_loader_health_reads_only_manifests_and_scans_the_calendar(stack: Stack) -> None:
    grants = allowed(role_policy(stack, "loader-health"))
    assert grants["s3:GetObject"] == {f"{BUCKET_ARN}/{MANIFEST_PREFIX}*"}
    assert grants["s3:ListBucket"] == {BUCKET_ARN}
    assert grants["secretsmanager:GetSecretValue"] == {stack.outputs["snowflake_key_secret_arn"]}
    # The calendar export (loader.calendar_export) only scans the calendar table: no writes, no other table.
    assert {a: r for a, r in grants.items() if a.startswith("dynamodb:")} == {"dynamodb:Scan": {TABLE_ARN}}
    assert not any(a.startswith("sqs:") or a == "s3:PutObject" for a in grants)
    env = stack.one("aws:lambda/function:Function", "loader-health").inputs["environment"]["variables"]
    assert env["GPI_CALENDAR_TABLE"] == NAMES.calendar_table


def test_alarms(stack: Stack) -> None:
    alarms = {a.inputs["name"]: a.inputs for a in stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    for svc in ("scheduler", "ingestion", "loader"):
        errors = alarms[f"gpi-dev-{svc}-errors"]
        assert (errors["namespace"], errors["metricName"]) == ("AWS/Lambda", "Errors")
        assert errors["dimensions"] == {"FunctionName": FUNCTIONS[svc]}
    assert alarms["gpi-dev-loader-health-errors"]["dimensions"] == {"FunctionName": f"{NAMES.loader_function}-health"}
    dlq = alarms["gpi-dev-ingestion-dlq-depth"]
    assert dlq["dimensions"] == {"QueueName": NAMES.ingestion_dlq}
    assert (dlq["comparisonOperator"], dlq["threshold"]) == ("GreaterThanThreshold", 0)
    assert alarms["gpi-dev-loader-dlq-depth"]["dimensions"] == {"QueueName": f"{NAMES.loader_queue}-dlq"}
    failed = alarms["gpi-dev-sessions-failed"]
    assert (failed["namespace"], failed["metricName"]) == (METRICS_NAMESPACE, "SessionsFailed")
    assert failed["dimensions"] == {"service": "scheduler"}
    orphans = alarms["gpi-dev-orphan-files"]
    assert (orphans["metricName"], orphans["dimensions"]) == ("OrphanFiles", {"service": "ingestion"})
    overdue = alarms["gpi-dev-ingestion-overdue"]
    assert overdue["evaluationPeriods"] == overdue["datapointsToAlarm"] == 6
    assert overdue["period"] == 3600 and overdue["treatMissingData"] == "breaching"
    topic = stack.outputs["alarm_topic_arn"]
    assert all(a["alarmActions"] == [topic] for a in alarms.values())
    assert stack.one("aws:sns/topicSubscription:TopicSubscription").inputs["endpoint"] == "ops@example.com"


def alarmed_metrics(stack: Stack, service: str) -> dict[str, set[str]]:
    """Metric name -> the names of the alarms on it (a metric alarm's own, or an input of a metric-math alarm)."""
    out: dict[str, set[str]] = {}
    for alarm in stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        inputs = alarm.inputs
        metrics = (
            [inputs]
            if "metricName" in inputs
            else [q["metric"] for q in inputs.get("metricQueries", []) if "metric" in q]
        )
        for m in metrics:
            if m.get("namespace") == METRICS_NAMESPACE and m.get("dimensions") == {"service": service}:
                out.setdefault(m["metricName"], set()).add(inputs["name"])
    return out


@pytest.mark.parametrize("load_with", ["snowpipe", "loader"])
def test_every_loader_metric_has_an_alarm(load_with: str, stack: Stack, packages_dir: Path) -> None:
    """Every metric the loader emits (its consumer and its health check; the contract in f1common) alarms, in either
    loading mode: a new metric without an alarm fails here."""
    if load_with == "loader":
        cfg = AwsStackConfig(stage="dev", snowflake_stack="acme/gpi-snowflake/dev", load_with="loader")
        stack = run_aws(with_packages(cfg, packages_dir))
    alarmed = alarmed_metrics(stack, "loader")
    assert [m for m in metric.LOADER_METRICS if m not in alarmed] == []
    alarms = {a.inputs["name"]: a.inputs for a in stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    stopped = alarms["gpi-dev-load-health-stopped"]  # no report from the hourly check breaches
    assert (stopped["statistic"], stopped["treatMissingData"], stopped["evaluationPeriods"]) == (
        "SampleCount",
        "breaching",
        2,
    )
    waiting = alarms["gpi-dev-files-waiting-for-manifests"]
    [expression] = [q for q in waiting["metricQueries"] if q.get("returnData")]
    assert expression["expression"] == "IF(FILL(pending, 0) > 0 AND FILL(loaded, 0) == 0, 1, 0)"
    ids = {q["id"]: q["metric"]["metricName"] for q in waiting["metricQueries"] if "metric" in q}
    assert ids == {"pending": metric.FILES_PENDING, "loaded": metric.FILES_LOADED}
    assert (waiting["evaluationPeriods"], waiting["datapointsToAlarm"], waiting["threshold"]) == (3, 3, 0)


def test_snowflake_access_role_trusts_the_integration(stack: Stack) -> None:
    role = stack.one("aws:iam/role:Role", "snowflake-access-role")
    assert role.inputs["name"] == snowflake_access_role_name("dev")
    [trust] = statements(role, "assumeRolePolicy")
    assert trust["Principal"] == {"AWS": SNOWFLAKE_IAM_USER_ARN}
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": SNOWFLAKE_EXTERNAL_ID}}
    grants = allowed(stack.one("aws:iam/rolePolicy:RolePolicy", "snowflake-access-policy"))
    assert grants["s3:GetObject"] == {f"{BUCKET_ARN}/{DATA_PREFIX}*"}
    assert "s3:PutObject" not in grants


def test_loader_consumes_its_queue(stack: Stack) -> None:
    mapping = stack.one("aws:lambda/eventSourceMapping:EventSourceMapping", "loader-events").inputs
    assert mapping["eventSourceArn"] == stack.outputs["loader_queue_arn"]
    assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]


def test_loader_key_comes_from_the_snowflake_stack_as_a_secret(stack: Stack) -> None:
    assert stack.of_type("aws:sns/topicSubscription:TopicSubscription")  # alarm_email given
    version = stack.one("aws:secretsmanager/secretVersion:SecretVersion", "snowflake-loader-key-value").inputs
    # The Snowflake stack's secret output reaches the engine encrypted, never as plain state.
    assert version["secretString"] == {rpc._special_sig_key: rpc._special_secret_sig, "value": LOADER_PRIVATE_KEY}
    secret = stack.one("aws:secretsmanager/secret:Secret", "snowflake-loader-key").inputs
    assert secret["name"] == "gpi-dev/snowflake/loader-private-key"
