"""The Grafana stack under mocks: `pulumi up` of the dashboards build (dashboards:grafana_build) for a stage,
fed by the Snowflake stack's reporter outputs, checked against the build and the policies."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from f1common import grafana as f1grafana
from gpi_infra import grafana_policies as gp
from gpi_infra.grafana_bundle import GrafanaBundle, read_bundle
from gpi_infra.grafana_config import GRAFANA_PROJECT, GrafanaStackConfig
from gpi_infra.grafana_stack import ReporterOutputs, grafana_program
from gpi_infra.testing import Stack, policy_resource, resource_args, run_program, run_project, violations

BUILD_DIR = Path(os.environ.get("GPI_GRAFANA_BUILD", "dashboards/grafana-build"))
PROJECT_DIR = Path(__file__).resolve().parent.parent / "grafana"
PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC+/8=\n-----END PRIVATE KEY-----\n"
SECRET_SIG = gp.SECRET_SIG
DATASOURCE, DASHBOARD, FOLDER = gp.DATASOURCE, gp.DASHBOARD, "grafana:oss/folder:Folder"
RULE_GROUP, CONTACT_POINT, POLICY = gp.RULE_GROUP, gp.CONTACT_POINT, gp.NOTIFICATION_POLICY


def snowflake_outputs(stage: str = "dev") -> dict[str, Any]:
    prefix = f"GPI_{stage.upper()}"
    return {
        "account": "ACME-GPI",
        "database": prefix,
        "analytics_schema": "ANALYTICS",
        "bi_warehouse": f"{prefix}_BI_WH",
        "reporter_role": f"{prefix}_REPORTER",
        "reporter_user": f"{prefix}_GRAFANA_SVC",
        "reporter_private_key": PEM,
    }


def config(**overrides: Any) -> GrafanaStackConfig:
    values = {
        "stage": "dev",
        "snowflake_stack": "acme/gpi-snowflake/dev",
        "plugin": "michelin",
        "alert_emails": ["race-ops@example.com"],
        "notification_policy": False,
        **overrides,
    }
    return GrafanaStackConfig.model_validate(values)


def bundle(plugin: str) -> GrafanaBundle:
    if not (BUILD_DIR / "dashboards").is_dir():
        pytest.fail(f"no dashboards build at {BUILD_DIR} (Pants ships dashboards:grafana_build with these tests)")
    return read_bundle(BUILD_DIR, f1grafana.plugin(plugin))


def deploy(cfg: GrafanaStackConfig) -> Stack:
    build = bundle(cfg.plugin)
    return run_program(
        lambda: grafana_program(cfg, ReporterOutputs(**snowflake_outputs(cfg.stage)), build),
        project=GRAFANA_PROJECT,
        stack=cfg.stage,
    )


@pytest.fixture(scope="module")
def dev() -> Stack:
    return deploy(config())


@pytest.fixture(scope="module")
def prod() -> Stack:
    return deploy(
        config(stage="prod", plugin="snowflake", notification_policy=True, snowflake_stack="acme/gpi-snowflake/prod")
    )


def _plain(value: Any) -> Any:
    return value["value"] if isinstance(value, dict) and SECRET_SIG in value else value


def test_datasource_from_the_reporter_outputs_with_the_key_as_a_secret(dev: Stack, prod: Stack) -> None:
    ds = dev.one(DATASOURCE).inputs
    assert (ds["type"], ds["uid"]) == ("michelin-snowflake-datasource", "gpi-snowflake-oss-dev")
    assert json.loads(ds["jsonDataEncoded"]) == {
        "account": "ACME-GPI",
        "username": "GPI_DEV_GRAFANA_SVC",
        "role": "GPI_DEV_REPORTER",
        "warehouse": "GPI_DEV_BI_WH",
        "database": "GPI_DEV",
        "schema": "ANALYTICS",
        "authMethod": "keyPair",
    }
    secure = ds["secureJsonDataEncoded"]
    assert isinstance(secure, dict) and SECRET_SIG in secure, "the key reaches the engine as a Pulumi secret"
    assert json.loads(secure["value"]) == {"privateKey": f1grafana.michelin_private_key(PEM)}
    assert "PRIVATE" not in ds["jsonDataEncoded"]
    enterprise = prod.one(DATASOURCE).inputs
    assert enterprise["type"] == "grafana-snowflake-datasource" and enterprise["uid"] == "gpi-snowflake-prod"
    assert json.loads(enterprise["secureJsonDataEncoded"]["value"]) == {"privateKey": PEM}
    assert json.loads(enterprise["jsonDataEncoded"])["authType"] == "keypair"


def test_every_built_dashboard_is_deployed_in_the_stage_folder(dev: Stack) -> None:
    build = bundle("michelin")
    folder = dev.one(FOLDER).inputs
    assert (folder["uid"], folder["title"]) == ("gpi-michelin-dev", f"{build.folder_title} dev")
    deployed = {d.name: json.loads(d.inputs["configJson"]) for d in dev.of_type(DASHBOARD)}
    assert sorted(deployed) == sorted(f"{uid}-dev" for uid in build.dashboards)
    for uid, original in build.dashboards.items():
        staged = deployed[f"{uid}-dev"]
        assert dev.named(f"{uid}-dev").inputs["folder"] == "gpi-michelin-dev"  # the folder's id (mocked)
        # Same dashboard as the build wrote, but for the stage: its uid and every query's datasource.
        assert staged["uid"] == f"{uid}-dev" and staged["title"] == original["title"]
        assert [p["targets"][0]["queryText"] for p in staged["panels"]] == [
            p["targets"][0]["queryText"] for p in original["panels"]
        ]
        refs = {json.dumps(t["datasource"]) for p in staged["panels"] for t in p["targets"]}
        assert refs == {json.dumps({"type": "michelin-snowflake-datasource", "uid": "gpi-snowflake-oss-dev"})}
    assert dev.outputs["dashboards"] == sorted(deployed)


def test_alert_rules_are_the_built_rules_for_the_stage(dev: Stack, prod: Stack) -> None:
    build = bundle("michelin")
    groups = {g.inputs["name"]: g.inputs for g in dev.of_type(RULE_GROUP)}
    assert sorted(groups) == sorted(g["name"] for g in build.rule_groups) == ["pipeline-health", "race-pace"]
    (pace,) = groups["race-pace"]["rules"]
    assert pace["uid"] == "gpi-pace-change-michelin-dev" and pace["condition"] == "C"
    assert [json.loads(d["model"]).get("expression") for d in pace["datas"]][-1] == "$A >= 1.5"
    assert "analytics.mart_pace_changes" in json.loads(pace["datas"][0]["model"])["queryText"]
    assert "{{ $labels.driver }}" in pace["annotations"]["summary"] and "$values.B" in pace["annotations"]["summary"]
    for group in build.rule_groups:
        deployed = groups[group["name"]]
        assert deployed["folderUid"] == "gpi-michelin-dev"
        assert [r["uid"] for r in deployed["rules"]] == [f"{r['uid']}-dev" for r in group["rules"]]
        for rule, built in zip(deployed["rules"], group["rules"], strict=True):
            assert rule["condition"] == built["condition"] and rule["name"] == built["title"]
            assert rule["labels"] == {**built["labels"], "stage": "dev"}
            models = [json.loads(d["model"]) for d in rule["datas"]]
            assert [m.get("queryText") for m in models] == [q["model"].get("queryText") for q in built["data"]]
            assert {d["datasourceUid"] for d in rule["datas"]} == {"gpi-snowflake-oss-dev", "__expr__"}
            # dev shares the organisation: its rules name dev's contact point, no policy tree of its own
            assert rule["notificationSettings"] == {"contactPoint": "grand-prix-insights-dev"}
    assert not dev.of_type(POLICY)
    policy = prod.one(POLICY).inputs
    assert policy["contactPoint"] == "grand-prix-insights-prod"
    assert policy["policies"][0]["matchers"] == [
        {"label": "project", "match": "=", "value": "grand-prix-insights"},
        {"label": "stage", "match": "=", "value": "prod"},
    ]
    assert all("notificationSettings" not in r for g in prod.of_type(RULE_GROUP) for r in g.inputs["rules"])
    assert prod.one(CONTACT_POINT).inputs["emails"][0]["addresses"] == ["race-ops@example.com"]


@pytest.mark.parametrize("stack_name", ["dev", "prod"])
def test_policies_pass_on_both_stages(stack_name: str, dev: Stack, prod: Stack) -> None:
    stack = {"dev": dev, "prod": prod}[stack_name]
    for r in stack.resources:
        assert violations(gp.no_plain_secrets, resource_args(r)) == [], r.name
    assert violations(gp.rules_have_contact_points, [policy_resource(r) for r in stack.resources]) == []


def test_no_plain_secrets_refuses_a_key_in_json_data(dev: Stack) -> None:
    ds = dev.one(DATASOURCE)
    leaked = json.dumps({**json.loads(ds.inputs["jsonDataEncoded"]), "privateKey": PEM})
    assert any(
        "jsonDataEncoded/privateKey" in v
        for v in violations(gp.no_plain_secrets, resource_args(ds, jsonDataEncoded=leaked))
    )
    assert any(
        "secureJsonDataEncoded.privateKey" in v
        for v in violations(gp.no_plain_secrets, resource_args(ds, secureJsonDataEncoded=None))
    )
    board = dev.of_type(DASHBOARD)[0]
    assert violations(gp.no_plain_secrets, resource_args(board, configJson=json.dumps({"note": PEM})))
    cp = dev.one(CONTACT_POINT)
    hook = [{"url": "https://hooks.example.com", "settings": {"authorization_credentials": "s3cr3t"}}]
    assert violations(gp.no_plain_secrets, resource_args(cp, webhooks=hook))


def test_rules_without_a_reachable_contact_point_are_refused(dev: Stack, prod: Stack) -> None:
    resources = [policy_resource(r) for r in dev.resources]
    no_contact = [r for r in resources if r.resource_type != CONTACT_POINT]
    assert any("no contact point of this stack" in v for v in violations(gp.rules_have_contact_points, no_contact))
    group = dev.of_type(RULE_GROUP)[0]
    unrouted = [{k: v for k, v in rule.items() if k != "notificationSettings"} for rule in group.inputs["rules"]]
    others = [policy_resource(r) for r in dev.resources if r is not group]
    found = violations(gp.rules_have_contact_points, [*others, policy_resource(group, rules=unrouted)])
    assert any("reaches no contact point" in v for v in found)
    # prod routes by labels: a rule whose labels match no route falls to the root, still our contact point;
    # a root pointing elsewhere is refused.
    policy = prod.one(POLICY)
    rest = [policy_resource(r) for r in prod.resources if r is not policy]
    found = violations(
        gp.rules_have_contact_points, [*rest, policy_resource(policy, contactPoint="someone-else", policies=[])]
    )
    assert any("routed to 'someone-else'" in v for v in found)
    empty = policy_resource(prod.one(CONTACT_POINT), emails=[])
    assert any("has no integration" in v for v in violations(gp.rules_have_contact_points, [empty]))


def test_project_runs_from_its_config_and_the_stack_reference() -> None:
    stack = run_project(
        PROJECT_DIR,
        stack="dev",
        config={"gpi-grafana:buildDir": str(BUILD_DIR.resolve()), "gpi-grafana:alertEmails": '["a@example.com"]'},
        stack_outputs={"organization/gpi-snowflake/dev": snowflake_outputs()},
    )
    assert stack.one(DATASOURCE).inputs["uid"] == "gpi-snowflake-oss-dev"  # Pulumi.dev.yaml: plugin michelin
    assert stack.one("pulumi:pulumi:StackReference").inputs["name"] == "organization/gpi-snowflake/dev"
    assert len(stack.of_type(DASHBOARD)) == len(bundle("michelin").dashboards)
    assert isinstance(stack.one(DATASOURCE).inputs["secureJsonDataEncoded"], dict)


def test_a_build_for_another_plugin_or_without_addresses_is_refused() -> None:
    with pytest.raises(ValueError, match="the build is for snowflake"):
        grafana_program(config(), ReporterOutputs(**snowflake_outputs()), bundle("snowflake"))
    with pytest.raises(ValueError, match="alertEmails"):
        run_program(
            lambda: grafana_program(
                config(alert_emails=[]), ReporterOutputs(**snowflake_outputs()), bundle("michelin")
            ),
            project=GRAFANA_PROJECT,
        )
    with pytest.raises(FileNotFoundError, match="build with --datasource"):
        read_bundle(Path("/nonexistent"), f1grafana.MICHELIN)
