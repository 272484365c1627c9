"""The Pulumi projects as `pulumi up` runs them: `__main__.py` + `Pulumi.<stack>.yaml` + per-deployment config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpi_infra.aws_stack import SnowflakeOutputs
from gpi_infra.config import AWS_PROJECT, SNOWFLAKE_PROJECT, AwsStackConfig, SnowflakeStackConfig
from gpi_infra.snowflake_stack import snowflake_program
from gpi_infra.testing import (
    ACCOUNT,
    SNOWFLAKE_EXTERNAL_ID,
    SNOWFLAKE_IAM_USER_ARN,
    SNOWPIPE_QUEUE_ARN,
    functions_with_packages,
    run_program,
    run_project,
    stack_config,
)

PULUMI_DIR = Path(__file__).resolve().parent.parent
STAGES = ("dev", "prod")
# What a deployment sets itself (README): account-specific values and secrets.
SNOWFLAKE_DEPLOYMENT = {
    f"{SNOWFLAKE_PROJECT}:organizationName": "ACME",
    f"{SNOWFLAKE_PROJECT}:accountName": "GPI",
    f"{SNOWFLAKE_PROJECT}:adminUser": "PULUMI_ADMIN",
    f"{SNOWFLAKE_PROJECT}:awsAccountId": ACCOUNT,
}


def aws_deployment(directory: Path, stage: str) -> dict[str, str]:
    """The AWS project's config in tests: packages given (fake zips), so the program does not run Pants."""
    functions = json.loads(stack_config(PULUMI_DIR / "aws", stage).get(f"{AWS_PROJECT}:functions", "{}"))
    for service, package in functions_with_packages(directory).items():
        functions[service] = {**functions.get(service, {}), **package}
    return {f"{AWS_PROJECT}:buildPackages": "false", f"{AWS_PROJECT}:functions": json.dumps(functions)}


@pytest.mark.parametrize("stage", STAGES)
def test_stack_files_hold_valid_config(stage: str) -> None:
    aws = stack_config(PULUMI_DIR / "aws", stage)
    assert aws[f"{AWS_PROJECT}:stage"] == stage
    assert aws[f"{AWS_PROJECT}:snowflakeStack"].endswith(f"/{SNOWFLAKE_PROJECT}/{stage}")
    snow = stack_config(PULUMI_DIR / "snowflake", stage)
    assert snow[f"{SNOWFLAKE_PROJECT}:stage"] == stage


def snowflake_outputs_of(stage: str) -> dict[str, object]:
    """The Snowflake project's real outputs for a stage (run under mocks), as a StackReference returns them."""
    stack = run_project(PULUMI_DIR / "snowflake", stack=stage, config=SNOWFLAKE_DEPLOYMENT)
    cfg = SnowflakeStackConfig(
        stage=stage,
        organization_name="ACME",
        account_name="GPI",
        admin_user="PULUMI_ADMIN",
        aws_account_id=ACCOUNT,
    )
    assert stack.of_type("snowflake:index/pipe:Pipe")
    return run_program(lambda: snowflake_program(cfg), project=SNOWFLAKE_PROJECT, stack=stage).outputs


@pytest.mark.parametrize("stage", STAGES)
def test_projects_deploy_in_order_with_consistent_wiring(stage: str, tmp_path: Path) -> None:
    snowflake = snowflake_outputs_of(stage)
    assert set(SnowflakeOutputs.output_names()) <= set(snowflake)
    reference = f"organization/{SNOWFLAKE_PROJECT}/{stage}"
    aws = run_project(
        PULUMI_DIR / "aws", stack=stage, config=aws_deployment(tmp_path, stage), stack_outputs={reference: snowflake}
    )
    cfg = AwsStackConfig(stage=stage, snowflake_stack=reference)
    # Bucket notification -> the pipes' queue.
    queues = aws.one("aws:s3/bucketNotification:BucketNotification").inputs["queues"]
    assert SNOWPIPE_QUEUE_ARN in {q["queueArn"] for q in queues}
    # Storage integration trust: the role the AWS stack creates is the one Snowflake was told to assume,
    # and it trusts the integration's IAM user and external id.
    role = aws.one("aws:iam/role:Role", "snowflake-access-role")
    assert role.state["arn"] == snowflake["storage_aws_role_arn"]
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"]["AWS"] == snowflake["storage_aws_iam_user_arn"] == SNOWFLAKE_IAM_USER_ARN
    assert trust["Condition"]["StringEquals"]["sts:ExternalId"] == SNOWFLAKE_EXTERNAL_ID
    # The loader connects as the Snowflake stack's loader user, role, warehouse and database.
    env = aws.one("aws:lambda/function:Function", "loader").inputs["environment"]["variables"]
    assert env["GPI_SNOWFLAKE_USER"] == snowflake["loader_user"]
    assert env["GPI_SNOWFLAKE_ROLE"] == snowflake["loader_role"]
    assert env["GPI_SNOWFLAKE_WAREHOUSE"] == snowflake["load_warehouse"]
    assert env["GPI_SNOWFLAKE_DATABASE"] == snowflake["database"] == cfg.names.warehouse_database
    assert aws.one("aws:s3/bucket:Bucket").inputs["bucket"] == cfg.names.landing_bucket
    # Stage settings from the YAML reach the resources.
    log_days = int(stack_config(PULUMI_DIR / "aws", stage)[f"{AWS_PROJECT}:logRetentionDays"])
    assert {g.inputs["retentionInDays"] for g in aws.of_type("aws:cloudwatch/logGroup:LogGroup")} == {log_days}
    # The transformer (dbt's prod target) as the Snowflake stack's transformer user, role and warehouse.
    env = aws.one("aws:lambda/function:Function", "transformer").inputs["environment"]["variables"]
    assert env["GPI_SNOWFLAKE_USER"] == snowflake["transformer_user"]
    assert env["GPI_SNOWFLAKE_ROLE"] == snowflake["transformer_role"]
    assert env["GPI_SNOWFLAKE_WAREHOUSE"] == snowflake["transform_warehouse"]
    assert env["GPI_SNOWFLAKE_DATABASE"] == snowflake["database"]
    # The service keys: generated by the Snowflake stack, handed over as secrets into Secrets Manager.
    for service in ("loader", "transformer"):
        version = aws.one("aws:secretsmanager/secretVersion:SecretVersion", f"snowflake-{service}-key-value")
        assert version.inputs["secretString"]["value"] == snowflake[f"{service}_private_key"]


def test_prod_sizes_the_ingestion_for_a_race_and_keeps_its_images(tmp_path: Path) -> None:
    stack = run_project(
        PULUMI_DIR / "aws",
        stack="prod",
        config=aws_deployment(tmp_path, "prod"),
        stack_outputs={f"organization/{SNOWFLAKE_PROJECT}/prod": snowflake_outputs_of("prod")},
    )
    ingestion = stack.one("aws:lambda/function:Function", "ingestion").inputs
    assert (ingestion["memorySize"], ingestion["timeout"]) == (1536, 900)
    assert stack.one("aws:dynamodb/table:Table").inputs["deletionProtectionEnabled"] is True
    assert {r.inputs["forceDelete"] for r in stack.of_type("aws:ecr/repository:Repository")} == {False}


def test_missing_deployment_config_is_named() -> None:
    with pytest.raises(Exception, match="gpi-snowflake:organizationName: Field required"):
        run_project(PULUMI_DIR / "snowflake", stack="dev")


def test_policy_pack_main_registers_every_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    import runpy

    import pulumi_policy

    from gpi_infra.grafana_policies import GRAFANA_POLICIES
    from gpi_infra.policies import POLICIES

    packs: list[dict[str, object]] = []
    # The real PolicyPack starts a gRPC server for the CLI and blocks; record its arguments instead.
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kwargs: packs.append(kwargs))
    runpy.run_path(str(PULUMI_DIR / "policy_pack" / "__main__.py"), run_name="__main__")
    assert packs == [{"name": "gpi-guardrails", "policies": [*POLICIES, *GRAFANA_POLICIES]}]
    assert "runtime" in (PULUMI_DIR / "policy_pack" / "PulumiPolicy.yaml").read_text()


def test_bad_aws_config_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown services in functions"):
        AwsStackConfig.model_validate(
            {
                "stage": "dev",
                "snowflakeStack": "o/p/s",
                "functions": {"ingest": {"memoryMb": 512}},
            }
        )
    with pytest.raises(Exception, match="gpi-aws:ingestionOverdueHours"):
        run_project(
            PULUMI_DIR / "aws",
            stack="dev",
            config={f"{AWS_PROJECT}:ingestionOverdueHours": "48", f"{AWS_PROJECT}:buildPackages": "false"},
            stack_outputs={f"organization/{SNOWFLAKE_PROJECT}/dev": {}},
        )
