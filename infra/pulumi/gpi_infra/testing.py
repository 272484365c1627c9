"""Offline test harness: runs a Pulumi program against `pulumi.runtime.set_mocks` and records every resource.

The mocks answer like the providers would for the outputs the programs read (ids, ARNs, Snowflake describe
outputs), so cross-resource wiring can be asserted on resolved values.
"""

from __future__ import annotations

import hashlib
import json
import runpy
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime.mocks
import yaml  # type: ignore[import-untyped]

from gpi_infra import packages as service_packages
from gpi_infra.aws_stack import SnowflakeOutputs
from gpi_infra.config import AwsStackConfig, FunctionSettings, SnowflakeStackConfig

ACCOUNT = "123456789012"
REGION = "eu-west-1"
SNOWPIPE_QUEUE_ARN = "arn:aws:sqs:eu-west-1:999999999999:sf-snowpipe-AIDAEXAMPLE-abcdefghijk"
SNOWFLAKE_IAM_USER_ARN = "arn:aws:iam::999999999999:user/externalstages/abc123-s"
SNOWFLAKE_EXTERNAL_ID = "ACME_SFCRole=2_abcdefghijklmnopqrstuvwxyz="


@dataclass(frozen=True)
class Recorded:
    """One registered resource: its type token, logical name, inputs (camelCase) and mocked state."""

    type: str
    name: str
    inputs: dict[str, Any]
    state: dict[str, Any]
    id: str
    provider: str | None = None

    def policy(self, key: str) -> dict[str, Any]:
        """An input holding a JSON policy document, parsed."""
        value = self.inputs[key]
        return json.loads(value) if isinstance(value, str) else value


def _arn(typ: str, inputs: dict[str, Any], name: str) -> str | None:
    n = inputs.get("name", name)
    arns = {
        "aws:s3/bucket:Bucket": f"arn:aws:s3:::{inputs.get('bucket', name)}",
        "aws:sqs/queue:Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{n}",
        "aws:lambda/function:Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{n}",
        "aws:iam/role:Role": f"arn:aws:iam::{ACCOUNT}:role/{n}",
        "aws:dynamodb/table:Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{n}",
        "aws:cloudwatch/logGroup:LogGroup": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{n}",
        "aws:sns/topic:Topic": f"arn:aws:sns:{REGION}:{ACCOUNT}:{n}",
        "aws:scheduler/scheduleGroup:ScheduleGroup": f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule-group/{n}",
        "aws:scheduler/schedule:Schedule": f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/"
        f"{inputs.get('groupName', 'default')}/{n}",
        "aws:secretsmanager/secret:Secret": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{n}-AbCdEf",
        "aws:cloudwatch/metricAlarm:MetricAlarm": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{n}",
        "aws:ecr/repository:Repository": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{n}",
    }
    return arns.get(typ)


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self, stack_outputs: dict[str, dict[str, Any]] | None = None) -> None:
        self.resources: list[Recorded] = []
        self.stack_outputs = stack_outputs or {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        state = dict(inputs)
        typ, name = args.typ, args.name
        resource_id = f"{name}-id"
        if typ == "aws:s3/bucket:Bucket":
            resource_id = inputs.get("bucket", name)
            state["bucket"] = resource_id
        elif typ == "aws:sqs/queue:Queue":
            resource_id = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{inputs.get('name', name)}"
            state["url"] = resource_id
        elif typ in ("aws:lambda/function:Function", "aws:dynamodb/table:Table", "aws:iam/role:Role"):
            resource_id = inputs.get("name", name)
        elif typ == "snowflake:index/storageIntegrationAws:StorageIntegrationAws":
            state["describeOutputs"] = [
                {
                    "iamUserArn": SNOWFLAKE_IAM_USER_ARN,
                    "externalId": inputs.get("storageAwsExternalId", SNOWFLAKE_EXTERNAL_ID),
                    "roleArn": inputs.get("storageAwsRoleArn"),
                }
            ]
        elif typ == "aws:ecr/repository:Repository":
            resource_id = inputs.get("name", name)
            state["registryId"] = ACCOUNT
            state["repositoryUrl"] = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{resource_id}"
        elif typ == "docker-build:index:Image":
            # What a push reports: the manifest's digest (here derived from the tags, i.e. the content fingerprint).
            digest = "sha256:" + hashlib.sha256(json.dumps(inputs.get("tags")).encode()).hexdigest()
            state["digest"] = digest
            state["ref"] = f"{(inputs.get('tags') or [''])[0]}@{digest}"
        elif typ == "tls:index/privateKey:PrivateKey":
            body = hashlib.sha256(name.encode()).hexdigest()
            pem = f"MIIB{body[:32]}\n{body[32:]}"
            state["publicKeyPem"] = f"-----BEGIN PUBLIC KEY-----\n{pem}\n-----END PUBLIC KEY-----\n"
            state["privateKeyPemPkcs8"] = f"-----BEGIN PRIVATE KEY-----\nMIIE{body}\n-----END PRIVATE KEY-----\n"
        elif typ == "pulumi:pulumi:StackReference":
            stack_name = inputs.get("name", name)
            if stack_name not in self.stack_outputs:
                raise KeyError(f"no mocked outputs for stack reference {stack_name!r}")
            state = {"name": stack_name, "outputs": self.stack_outputs[stack_name], "secretOutputNames": []}
            resource_id = stack_name
        elif typ == "snowflake:index/pipe:Pipe":
            state["notificationChannel"] = SNOWPIPE_QUEUE_ARN
        if typ.startswith("snowflake:index/") and "name" in inputs:
            parts = [inputs.get("database"), inputs.get("schema"), inputs["name"]]
            state["fullyQualifiedName"] = ".".join(f'"{p}"' for p in parts if p)
        if (arn := _arn(typ, inputs, name)) is not None:
            state["arn"] = arn
        self.resources.append(Recorded(typ, name, inputs, state, resource_id, args.provider))
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/deployer", "userId": "AIDA"}, None
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": REGION, "region": REGION, "id": REGION}, None
        if args.token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            registry = f"https://{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
            return {"userName": "AWS", "password": "ecr-token", "proxyEndpoint": registry, "id": REGION}, []
        raise NotImplementedError(f"no mock for call {args.token}")


def _engine_urn(self: Any, parent: str, type_: str, name: str) -> str:
    """URNs as the engine makes them: the parent's whole type chain qualifies the type (`a$b$c`), except for the
    root stack; the SDK's mock monitor keeps only the parent's last type."""
    if parent and (chain := parent.split("::")[2]) != "pulumi:pulumi:Stack":
        type_ = chain + "$" + type_
    return "urn:pulumi:" + "::".join([pulumi.get_stack(), pulumi.get_project(), type_, name])


pulumi.runtime.mocks.MockMonitor.make_urn = _engine_urn  # type: ignore[method-assign]


def _registered_urns() -> list[str]:
    monitor = pulumi.runtime.settings.get_monitor()
    return sorted(getattr(monitor, "resources", {}))


@dataclass
class Stack:
    """The resources one program registered, with lookups for the tests."""

    resources: list[Recorded]
    outputs: dict[str, Any] = field(default_factory=dict)
    urns: list[str] = field(default_factory=list)  # of every registered resource, components included

    def of_type(self, typ: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == typ]

    def one(self, typ: str, name: str | None = None) -> Recorded:
        found = [r for r in self.of_type(typ) if name is None or r.name == name]
        if len(found) != 1:
            have = [r.name for r in self.of_type(typ)]
            raise AssertionError(f"expected one {typ} named {name!r}, found {len(found)} among {have}")
        return found[0]

    def named(self, name: str) -> Recorded:
        found = [r for r in self.resources if r.name == name]
        if len(found) != 1:
            raise AssertionError(f"expected one resource named {name!r}, found {len(found)}")
        return found[0]


def run_program(program: Callable[[], dict[str, pulumi.Input[Any]]], *, project: str, stack: str = "dev") -> Stack:
    """Runs `program` under mocks until every registration has finished; returns what it registered.

    `program` returns the outputs it would export; they come back resolved in `Stack.outputs`.
    """
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False)
    resolved: dict[str, Any] = {}

    @pulumi.runtime.test
    def _run() -> pulumi.Output[Any]:
        outputs = program()
        return pulumi.Output.from_input(outputs).apply(resolved.update)

    _run()
    return Stack(resources=list(mocks.resources), outputs=resolved, urns=_registered_urns())


def stack_config(project_dir: Path, stack: str) -> dict[str, str]:
    """A project's `Pulumi.<stack>.yaml` config as the engine hands it to a program: structured values as JSON."""
    data = yaml.safe_load((project_dir / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8")) or {}
    return {
        key: json.dumps(value) if isinstance(value, (dict, list)) else str(value)
        for key, value in (data.get("config") or {}).items()
    }


def run_project(
    project_dir: Path,
    *,
    stack: str,
    config: dict[str, str] | None = None,
    secrets: dict[str, str] | None = None,
    stack_outputs: dict[str, dict[str, Any]] | None = None,
) -> Stack:
    """Runs a Pulumi project's `__main__.py` under mocks, with its stack YAML plus `config` and `secrets`."""
    project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text(encoding="utf-8"))["name"]
    mocks = RecordingMocks(stack_outputs)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False)
    values = {**stack_config(project_dir, stack), **(config or {}), **(secrets or {})}
    pulumi.runtime.set_all_config(values, secret_keys=list(secrets or {}))

    @pulumi.runtime.test
    def _run() -> None:
        runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__")

    try:
        _run()
    finally:
        pulumi.runtime.set_all_config({})
    return Stack(resources=list(mocks.resources), urns=_registered_urns())


def _urn(project: str, resource: Recorded) -> str:
    return f"urn:pulumi:dev::{project}::{resource.type}::{resource.name}"


def _options() -> Any:
    from pulumi_policy.policy import PolicyCustomTimeouts, PolicyResourceOptions

    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def policy_resource(resource: Recorded, project: str = "test", **props: Any) -> Any:
    """The resource as a stack policy sees it (its state, i.e. outputs), with `props` overriding."""
    from pulumi_policy import PolicyResource

    state = {**resource.state, **props}
    return PolicyResource(resource.type, state, _urn(project, resource), resource.name, _options(), None, None, [], {})


def resource_args(resource: Recorded, project: str = "test", **props: Any) -> Any:
    """The resource as a resource policy sees it (its inputs), with `props` overriding."""
    from pulumi_policy import ResourceValidationArgs

    inputs = {**resource.inputs, **props}
    return ResourceValidationArgs(resource.type, inputs, _urn(project, resource), resource.name, _options(), None)


def violations(policy: Any, target: Any) -> list[str]:
    """Runs one policy's `validate` on a `ResourceValidationArgs` or a list of policy resources."""
    from pulumi_policy import StackValidationArgs

    found: list[str] = []

    def report(message: str, urn: str | None = None) -> None:
        found.append(message)

    args = StackValidationArgs(list(target)) if isinstance(target, list) else target
    policy.validate(args, report)
    return found


def snowflake_config(**overrides: Any) -> SnowflakeStackConfig:
    """A Snowflake stack config as a deployment would set it (account values are examples)."""
    values: dict[str, Any] = {
        "stage": "dev",
        "organization_name": "ACME",
        "account_name": "GPI",
        "admin_user": "PULUMI_ADMIN",
        "aws_account_id": ACCOUNT,
    }
    return SnowflakeStackConfig.model_validate({**values, **overrides})


def snowflake_outputs(stage: str = "dev") -> SnowflakeOutputs:
    """The Snowflake stack's outputs as the AWS stack's StackReference would deliver them."""
    prefix = f"GPI_{stage.upper()}"
    return SnowflakeOutputs(
        pipe_notification_channel=SNOWPIPE_QUEUE_ARN,
        storage_aws_iam_user_arn=SNOWFLAKE_IAM_USER_ARN,
        storage_aws_external_id=SNOWFLAKE_EXTERNAL_ID,
        account="ACME-GPI",
        database=prefix,
        loader_user=f"{prefix}_LOADER_SVC",
        loader_role=f"{prefix}_LOADER",
        load_warehouse=f"{prefix}_LOAD_WH",
        loader_private_key=pulumi.Output.secret(LOADER_PRIVATE_KEY),
        transformer_user=f"{prefix}_DBT_SVC",
        transformer_role=f"{prefix}_TRANSFORMER",
        transform_warehouse=f"{prefix}_TRANSFORM_WH",
        transformer_private_key=pulumi.Output.secret(TRANSFORMER_PRIVATE_KEY),
    )


LOADER_PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEloader\n-----END PRIVATE KEY-----\n"
TRANSFORMER_PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEtransformer\n-----END PRIVATE KEY-----\n"


def fake_package(directory: Path, service: str, content: str = "v1") -> Path:
    """A stand-in for `dist/services.<service>/lambda.zip` (the program only fingerprints and ships it)."""
    path = directory / f"services.{service}" / "lambda.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:  # fixed timestamps: the same content makes the same bytes
        archive.writestr(zipfile.ZipInfo("lambda_function.py", (2025, 1, 1, 0, 0, 0)), f"# {service} {content}\n")
    return path


def functions_with_packages(directory: Path, **contents: str) -> dict[str, dict[str, Any]]:
    """`functions` config whose packages are fake zips in `directory` (per-service content, default v1)."""
    defaults = AwsStackConfig(stage="dev", snowflake_stack="o/p/s").functions
    return {svc: {"package": str(fake_package(directory, svc, contents.get(svc, "v1")))} for svc in defaults}


def packages_for(cfg: AwsStackConfig) -> dict[str, service_packages.ServicePackage]:
    return service_packages.locate(cfg.functions, Path("/"), base_image=cfg.lambda_base_image)


def with_packages(cfg: AwsStackConfig, directory: Path, **contents: str) -> AwsStackConfig:
    """The config with its services' packages replaced by fake zips in `directory`."""
    functions: dict[str, FunctionSettings] = {
        svc: settings.model_copy(update={"package": str(fake_package(directory, svc, contents.get(svc, "v1")))})
        for svc, settings in cfg.functions.items()
    }
    return cfg.model_copy(update={"functions": functions})
