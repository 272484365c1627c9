from __future__ import annotations

import json

import pytest

from f1common import snowpipe as defs
from f1common import warehouse
from f1common.datasets import DATASETS
from f1common.layout import DATA_PREFIX
from f1common.names import ResourceNames
from gpi_infra.aws_stack import SnowflakeOutputs
from gpi_infra.config import SNOWFLAKE_PROJECT, snowflake_access_role_arn
from gpi_infra.grafana_stack import ReporterOutputs
from gpi_infra.snowflake_stack import PREVIEW_FEATURES, SNAPSHOTS_SCHEMA, object_names, snowflake_program
from gpi_infra.testing import (
    ACCOUNT,
    SNOWFLAKE_EXTERNAL_ID,
    SNOWFLAKE_IAM_USER_ARN,
    SNOWPIPE_QUEUE_ARN,
    Stack,
    run_program,
    snowflake_config,
)

NAMES = ResourceNames.for_stage("dev")
USERS = {"loader": "GPI_DEV_LOADER_SVC", "transformer": "GPI_DEV_DBT_SVC", "reporter": "GPI_DEV_GRAFANA_SVC"}


@pytest.fixture(scope="module")
def stack() -> Stack:
    cfg = snowflake_config()
    return run_program(lambda: snowflake_program(cfg), project=SNOWFLAKE_PROJECT)


def test_database_schemas_and_warehouses(stack: Stack) -> None:
    assert stack.one("snowflake:index/database:Database").inputs["name"] == NAMES.warehouse_database
    schemas = {s.inputs["name"]: s.inputs for s in stack.of_type("snowflake:index/schema:Schema")}
    assert set(schemas) == {NAMES.staging_schema, NAMES.analytics_schema, SNAPSHOTS_SCHEMA}
    assert set(schemas) == {"STAGING", "ANALYTICS", "SNAPSHOTS"}
    assert all(s["database"] == NAMES.warehouse_database for s in schemas.values())
    warehouses = {w.inputs["name"]: w.inputs for w in stack.of_type("snowflake:index/warehouse:Warehouse")}
    assert set(warehouses) == {"GPI_DEV_LOAD_WH", "GPI_DEV_TRANSFORM_WH", "GPI_DEV_BI_WH"}
    assert all(w["autoSuspend"] == 60 and w["initiallySuspended"] is True for w in warehouses.values())


def test_staging_tables_are_generated_from_the_loader(stack: Stack) -> None:
    tables = {t.inputs["name"]: t.inputs for t in stack.of_type("snowflake:index/table:Table")}
    expected = defs.staging_tables("snowflake")
    assert len(expected) == len(DATASETS)
    for table in expected:
        got = tables[table.name]
        assert (got["database"], got["schema"]) == (NAMES.warehouse_database, table.schema)
        assert [(c["name"], c["type"], c["nullable"]) for c in got["columns"]] == [
            (c.name.upper(), c.type, c.nullable) for c in table.columns
        ]
        assert got.get("clusterBies") == (list(table.cluster_by) or None)
    laps = tables[DATASETS[next(d for d in DATASETS if d.value == "laps")].staging_table]
    assert [c["name"] for c in laps["columns"]][-4:] == ["_LOAD_TIME", "_FILE_NAME", "_RUN_ID", "_ROW_NUMBER"]
    # The loader's bookkeeping tables, with the loader's primary keys.
    for name, columns in warehouse.bookkeeping_columns("snowflake").items():
        got = tables[name.upper()]
        assert [c["name"] for c in got["columns"]] == [c.name.upper() for c in columns]
    assert tables["LOAD_HISTORY"]["primaryKey"] == {"keys": ["FILE_NAME"]}
    assert "primaryKey" not in tables["LOAD_QUARANTINE"]


def test_pipes_copy_each_dataset_prefix(stack: Stack) -> None:
    pipes = {p.inputs["name"]: p.inputs for p in stack.of_type("snowflake:index/pipe:Pipe")}
    expected = defs.pipe_definitions(NAMES.warehouse_database, "STAGING", defs.DEFAULT_STAGE, defs.DEFAULT_FILE_FORMAT)
    manifests = defs.manifest_pipe_definition(
        NAMES.warehouse_database, "STAGING", defs.DEFAULT_STAGE, defs.DEFAULT_MANIFEST_FILE_FORMAT
    )
    assert set(pipes) == {p.name for p in expected} | {manifests.name}
    assert pipes[manifests.name]["copyStatement"] == manifests.copy_statement
    assert pipes[manifests.name]["autoIngest"] is True
    for pipe in expected:
        got = pipes[pipe.name]
        assert got["autoIngest"] is True
        assert got["copyStatement"] == pipe.copy_statement
        assert f"/{DATA_PREFIX}{pipe.dataset}/" in got["copyStatement"]
        assert f"COPY INTO {NAMES.warehouse_database}.STAGING.{pipe.table} " in got["copyStatement"]
    assert stack.outputs["pipe_notification_channel"] == SNOWPIPE_QUEUE_ARN


def test_stage_format_and_integration(stack: Stack) -> None:
    integration = stack.one("snowflake:index/storageIntegrationAws:StorageIntegrationAws").inputs
    assert integration["storageAllowedLocations"] == [f"s3://{NAMES.landing_bucket}/"]
    # Trusts the role the AWS stack creates (same name function, account from config).
    assert integration["storageAwsRoleArn"] == snowflake_access_role_arn(ACCOUNT, "dev")
    assert integration["storageAwsRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/gpi-dev-snowflake-access"
    stage = stack.one("snowflake:index/stageExternalS3:StageExternalS3").inputs
    assert stage["url"] == f"s3://{NAMES.landing_bucket}/"
    assert stage["storageIntegration"] == object_names("dev")["storage_integration"]
    assert stage["fileFormat"]["formatName"] == f'"{NAMES.warehouse_database}"."STAGING"."{defs.DEFAULT_FILE_FORMAT}"'
    fmt = stack.one("snowflake:index/fileFormatParquet:FileFormatParquet").inputs
    assert (fmt["name"], fmt["useLogicalType"]) == (defs.DEFAULT_FILE_FORMAT, "true")
    manifest_fmt = stack.one("snowflake:index/fileFormatJson:FileFormatJson").inputs
    assert (manifest_fmt["name"], manifest_fmt["stripOuterArray"]) == (defs.DEFAULT_MANIFEST_FILE_FORMAT, "false")
    assert stack.outputs["storage_aws_iam_user_arn"] == SNOWFLAKE_IAM_USER_ARN
    assert stack.outputs["storage_aws_external_id"] == SNOWFLAKE_EXTERNAL_ID


def test_outputs_cover_what_the_aws_and_grafana_stacks_read(stack: Stack) -> None:
    assert set(SnowflakeOutputs.output_names()) <= set(stack.outputs)
    assert set(ReporterOutputs.output_names()) <= set(stack.outputs)
    assert stack.outputs["account"] == "ACME-GPI"
    assert stack.outputs["loader_user"] == "GPI_DEV_LOADER_SVC"


def test_provider_enables_the_preview_features_in_use(stack: Stack) -> None:
    provider = stack.one("pulumi:providers:snowflake")
    enabled = json.loads(provider.inputs["previewFeaturesEnabled"])  # provider inputs travel as JSON text
    used = {r.type for r in stack.resources} & set(PREVIEW_FEATURES)
    assert used == set(PREVIEW_FEATURES)
    assert sorted(PREVIEW_FEATURES[t] for t in used) == sorted(enabled)
    assert provider.inputs["authenticator"] == "SNOWFLAKE_JWT"
    for resource in stack.resources:
        if resource.type.startswith("snowflake:index/"):
            assert resource.provider and "pulumi:providers:snowflake::snowflake" in resource.provider, resource.name


def grants_of(stack: Stack, role: str) -> set[tuple[str, str, str]]:
    """(privilege, kind, target) for every grant to a role; kind is the grant's `on...` form."""
    found = set()
    for grant in stack.of_type("snowflake:index/grantPrivilegesToAccountRole:GrantPrivilegesToAccountRole"):
        inputs = grant.inputs
        if inputs["accountRoleName"] != role:
            continue
        if "onAccountObject" in inputs:
            on = inputs["onAccountObject"]
            kind, target = on["objectType"], on["objectName"]
        elif "onSchema" in inputs:
            kind, target = "SCHEMA", inputs["onSchema"]["schemaName"]
        else:
            on = inputs["onSchemaObject"]
            if "objectName" in on:
                kind, target = on["objectType"], on["objectName"]
            else:
                scope = "all" if "all" in on else "future"
                kind, target = f"{scope} {on[scope]['objectTypePlural']}", on[scope]["inSchema"]
        found |= {(p, kind, target) for p in inputs["privileges"]}
    return found


DB = f'"{NAMES.warehouse_database}"'
STAGING = f'{DB}."STAGING"'
ANALYTICS = f'{DB}."ANALYTICS"'
SNAPSHOTS = f'{DB}."SNAPSHOTS"'


def test_loader_role_is_least_privilege(stack: Stack) -> None:
    assert grants_of(stack, "GPI_DEV_LOADER") == {
        ("USAGE", "DATABASE", DB),
        ("USAGE", "WAREHOUSE", '"GPI_DEV_LOAD_WH"'),
        ("USAGE", "SCHEMA", STAGING),
        ("CREATE STAGE", "SCHEMA", STAGING),
        ("CREATE TABLE", "SCHEMA", STAGING),
        *(
            (p, f"{scope} TABLES", STAGING)
            for p in ("SELECT", "INSERT", "UPDATE", "DELETE")
            for scope in ("all", "future")
        ),
        *((p, f"{scope} PIPES", STAGING) for p in ("MONITOR", "OPERATE") for scope in ("all", "future")),
        ("USAGE", "STAGE", f'{STAGING}."{defs.DEFAULT_STAGE}"'),
        ("USAGE", "FILE FORMAT", f'{STAGING}."{defs.DEFAULT_FILE_FORMAT}"'),
    }


def test_transformer_and_reporter_roles_are_least_privilege(stack: Stack) -> None:
    transformer = grants_of(stack, "GPI_DEV_TRANSFORMER")
    assert transformer == {
        ("USAGE", "DATABASE", DB),
        ("USAGE", "WAREHOUSE", '"GPI_DEV_TRANSFORM_WH"'),
        ("USAGE", "SCHEMA", STAGING),
        *(("SELECT", f"{scope} TABLES", STAGING) for scope in ("all", "future")),
        ("USAGE", "SCHEMA", ANALYTICS),
        ("CREATE TABLE", "SCHEMA", ANALYTICS),
        ("CREATE VIEW", "SCHEMA", ANALYTICS),
        # the snapshot's schema: without it the first production `dbt build` fails at snap_driver_teams
        ("USAGE", "SCHEMA", SNAPSHOTS),
        ("CREATE TABLE", "SCHEMA", SNAPSHOTS),
    }
    reporter = grants_of(stack, "GPI_DEV_REPORTER")
    assert reporter == {
        ("USAGE", "DATABASE", DB),
        ("USAGE", "WAREHOUSE", '"GPI_DEV_BI_WH"'),
        ("USAGE", "SCHEMA", ANALYTICS),
        *(("SELECT", f"{scope} {kind}", ANALYTICS) for scope in ("all", "future") for kind in ("TABLES", "VIEWS")),
        # the pipeline-health dashboard reads the staging tables (freshness, load history, calendar)
        ("USAGE", "SCHEMA", STAGING),
        *(("SELECT", f"{scope} TABLES", STAGING) for scope in ("all", "future")),
    }
    all_grants = stack.of_type("snowflake:index/grantPrivilegesToAccountRole:GrantPrivilegesToAccountRole")
    assert not any(g.inputs.get("allPrivileges") or g.inputs.get("onAccount") for g in all_grants)


def test_service_users_use_key_pair_auth(stack: Stack) -> None:
    users = {u.inputs["name"]: u.inputs for u in stack.of_type("snowflake:index/serviceUser:ServiceUser")}
    assert set(users) == {"GPI_DEV_LOADER_SVC", "GPI_DEV_DBT_SVC", "GPI_DEV_GRAFANA_SVC"}
    assert users["GPI_DEV_LOADER_SVC"]["defaultRole"] == "GPI_DEV_LOADER"
    assert users["GPI_DEV_GRAFANA_SVC"]["defaultWarehouse"] == "GPI_DEV_BI_WH"
    assert not any("password" in u for u in users.values())
    memberships = {
        (g.inputs["roleName"], g.inputs.get("userName") or g.inputs.get("parentRoleName"))
        for g in stack.of_type("snowflake:index/grantAccountRole:GrantAccountRole")
    }
    assert ("GPI_DEV_LOADER", "GPI_DEV_LOADER_SVC") in memberships
    assert ("GPI_DEV_REPORTER", "GPI_DEV_GRAFANA_SVC") in memberships
    assert ("GPI_DEV_TRANSFORMER", "SYSADMIN") in memberships


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError, match="aws_account_id"):
        snowflake_config(aws_account_id="12345")
    with pytest.raises(ValueError, match="stage"):
        snowflake_config(stage="Dev Stage")


def public_key(stack: Stack, name: str) -> str:
    """The Snowflake form of a generated key's public half: the PEM body on one line."""
    pem = stack.one("tls:index/privateKey:PrivateKey", name).state["publicKeyPem"]
    return "".join(line for line in pem.splitlines() if "-----" not in line)


def test_the_stack_generates_each_users_key_pair(stack: Stack) -> None:
    keys = {k.name: k.inputs for k in stack.of_type("tls:index/privateKey:PrivateKey")}
    assert keys == {f"{svc}-keys-key-1": {"algorithm": "RSA", "rsaBits": 2048} for svc in USERS}
    users = {u.inputs["name"]: u.inputs for u in stack.of_type("snowflake:index/serviceUser:ServiceUser")}
    for svc, user in USERS.items():
        assert users[user]["rsaPublicKey"] == public_key(stack, f"{svc}-keys-key-1")
        assert "rsaPublicKey2" not in users[user]
        # The private half leaves the stack only as a secret output (AWS stack, dbt, Grafana).
        private = stack.one("tls:index/privateKey:PrivateKey", f"{svc}-keys-key-1").state["privateKeyPemPkcs8"]
        assert stack.outputs[f"{svc}_private_key"] == private
        assert stack.outputs[f"{svc}_key_generation"] == 1


def test_raising_a_generation_rotates_that_key_without_downtime(stack: Stack) -> None:
    rotated = run_program(
        lambda: snowflake_program(snowflake_config(key_generations={"loader": 2})), project=SNOWFLAKE_PROJECT
    )
    users = {u.inputs["name"]: u.inputs for u in rotated.of_type("snowflake:index/serviceUser:ServiceUser")}
    # Generation 1 stays in its slot (the loader still holds it until the AWS stack hands out the new key);
    # generation 2 takes the other slot and is the one handed out.
    assert users[USERS["loader"]]["rsaPublicKey"] == public_key(stack, "loader-keys-key-1")
    assert users[USERS["loader"]]["rsaPublicKey2"] == public_key(rotated, "loader-keys-key-2")
    new_private = rotated.one("tls:index/privateKey:PrivateKey", "loader-keys-key-2").state["privateKeyPemPkcs8"]
    assert rotated.outputs["loader_private_key"] == new_private != stack.outputs["loader_private_key"]
    assert users[USERS["reporter"]]["rsaPublicKey"] == public_key(stack, "reporter-keys-key-1")
    # Generation 3 replaces generation 1 in slot 1; generation 2 is untouched.
    third = run_program(
        lambda: snowflake_program(snowflake_config(key_generations={"loader": 3})), project=SNOWFLAKE_PROJECT
    )
    assert {k.name for k in third.of_type("tls:index/privateKey:PrivateKey") if k.name.startswith("loader")} == {
        "loader-keys-key-2",
        "loader-keys-key-3",
    }
    third_users = third.of_type("snowflake:index/serviceUser:ServiceUser")
    [user] = [u.inputs for u in third_users if u.inputs["name"] == USERS["loader"]]
    assert (user["rsaPublicKey"], user["rsaPublicKey2"]) == (
        public_key(third, "loader-keys-key-3"),
        public_key(rotated, "loader-keys-key-2"),
    )
