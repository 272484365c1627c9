"""Alert rules in Grafana's provisioning API shapes, for every datasource, and the checks that refuse bad ones."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from grandprix_dashboards import alerts
from grandprix_dashboards.alert_validate import group_problems, route_problems, rule_problems
from grandprix_dashboards.datasources import DATASOURCES, DUCKDB, MICHELIN, SNOWFLAKE, Datasource

RULES = [(group, rule) for group in alerts.rule_groups() for rule in group.rules]


@pytest.fixture(params=list(DATASOURCES.values()), ids=list(DATASOURCES))
def ds(request: pytest.FixtureRequest) -> Datasource:
    return request.param  # type: ignore[no-any-return]


def test_every_rule_and_group_has_the_api_shape(ds: Datasource) -> None:
    for group in alerts.rule_groups():
        body = alerts.rule_group(group, ds, f"gpi-{ds.key}")
        assert group_problems(body, ds) == []
        uids = [r["uid"] for r in body["rules"]]
        assert len(uids) == len(set(uids)) and all(uid.endswith(f"-{ds.key}") for uid in uids)
    assert route_problems(alerts.route()) == []


def test_queries_use_the_plugins_target_shape() -> None:
    rule = alerts.SESSIONS_OVERDUE
    by_ds = {
        ds.key: alerts.provisioned_rule(rule, ds, folder_uid="f", group="g") for ds in (DUCKDB, SNOWFLAKE, MICHELIN)
    }
    duck, snow, oss = (by_ds[k]["data"][0]["model"] for k in ("duckdb", "snowflake", "michelin"))
    assert duck["format"] == 1 and "rawSql" in duck
    assert snow["format"] == "table" and "dateadd(hour" in snow["rawSql"]
    assert oss["queryType"] == "table" and "rawSql" not in oss and "dateadd(hour" in oss["queryText"]
    assert by_ds["michelin"]["data"][0]["datasourceUid"] == "gpi-snowflake-oss"
    condition = by_ds["duckdb"]["data"][-1]
    assert condition["datasourceUid"] == "__expr__" and condition["model"]["expression"] == "$A > 0"
    assert by_ds["duckdb"]["labels"]["project"] == "grand-prix-insights"
    assert by_ds["snowflake"]["annotations"]["__dashboardUid__"] == "gpi-pipeline-health-snowflake"


def _rule(ds: Datasource = SNOWFLAKE) -> dict[str, Any]:
    return copy.deepcopy(
        alerts.provisioned_rule(alerts.SESSIONS_OVERDUE, ds, folder_uid="gpi-snowflake", group="pipeline-health")
    )


@pytest.mark.parametrize(
    "break_it, expected",
    [
        (lambda r: r.pop("noDataState"), "'noDataState' is a required property"),
        (lambda r: r.update(execErrState="Firing"), "'Firing' is not one of"),
        (lambda r: r.update(uid="has spaces"), "does not match"),
        (lambda r: r.update(title="x" * 191), "is too long"),
        (lambda r: r.update(condtion="C"), "Additional properties are not allowed ('condtion'"),
        (lambda r: r.update({"for": "five minutes"}), "does not match"),
        (lambda r: r["data"][0]["relativeTimeRange"].pop("to"), "'to' is a required property"),
        (lambda r: r.update(condition="Z"), "condition 'Z' is none of the refIds"),
        (lambda r: r["data"][-1]["model"].update(expression="$A > $B"), "reads unknown ['B']"),
        (lambda r: r["data"][-1]["model"].update(type="median"), "expression type 'median'"),
        (lambda r: r["data"][0].update(datasourceUid="gpi-duckdb"), "queries datasource 'gpi-duckdb'"),
        (lambda r: r["data"][0]["model"].update(queryText="select 1"), "fields ['queryText'] that"),
        (lambda r: r["data"][0]["model"].update(format=1), "format 1 is not one of"),
        (lambda r: r["data"][1].update(refId="A"), "refIds are not unique"),
        (lambda r: r.update(condition="A"), "the condition must be an expression"),
    ],
)
def test_rule_checks_refuse_what_grafana_would(break_it: Any, expected: str) -> None:
    rule = _rule()
    assert rule_problems(rule, SNOWFLAKE) == []
    break_it(rule)
    assert any(expected in p for p in rule_problems(rule, SNOWFLAKE)), rule_problems(rule, SNOWFLAKE)


def test_michelin_rules_need_its_query_keys() -> None:
    rule = _rule(MICHELIN)
    assert rule_problems(rule, MICHELIN) == []
    rule["data"][0]["model"]["queryType"] = "time series"
    assert any("needs timeColumns" in p for p in rule_problems(rule, MICHELIN))


def test_route_checks() -> None:
    route = alerts.route()
    route["object_matchers"][0][1] = "=="
    assert any("'==' is not one of" in p for p in route_problems(route))
    assert any("'receiver' is a required property" in p for p in route_problems({"routes": []}))


def test_provisioning_file_has_one_group_per_folder_and_routes_to_the_contact_point() -> None:
    data = alerts.provisioning_file(
        alerts.rule_groups(), {"gpi-duckdb": ("Duck", DUCKDB), "gpi-snowflake": ("Snow", SNOWFLAKE)}
    )
    assert [(g["folder"], g["name"]) for g in data["groups"]] == [
        (folder, group.name) for folder in ("Duck", "Snow") for group in alerts.rule_groups()
    ]
    assert all("folderUID" not in r and r["uid"] for g in data["groups"] for r in g["rules"])
    assert [c["name"] for c in data["contactPoints"]] == [alerts.CONTACT_POINT]
    assert data["contactPoints"][0]["receivers"][0]["settings"] == {"addresses": "${GPI_ALERT_EMAIL}"}
    assert data["policies"][0]["routes"][0]["receiver"] == alerts.CONTACT_POINT
    assert alerts.expression_refs("$A >= 1.5 && ${B} > 0") == ["A", "B"]
