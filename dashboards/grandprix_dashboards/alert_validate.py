"""Checks of generated alert rules against the shapes of Grafana's alerting provisioning HTTP API.

The schema below is written from the definitions in Grafana's alerting OpenAPI document
(`pkg/services/ngalert/api/tooling/api.json`: `ProvisionedAlertRule`, `AlertQuery`, `RelativeTimeRange`,
`AlertRuleGroup`, `Route`), with its required fields, enums and uid/title limits; it is stricter than Grafana
in one way: unknown keys are refused (Grafana would silently drop a misspelt one). On top, the checks Grafana
makes when it saves a rule: refIds unique, the condition names one of them, every `$X` an expression reads
exists, expressions use the `__expr__` datasource, datasource queries the datasource the rule is for (in the
plugin's target shape, as panels are checked).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jsonschema

from f1common.grafana import EXPRESSION_DATASOURCE_UID
from grandprix_dashboards.alerts import expression_refs
from grandprix_dashboards.datasources import Datasource
from grandprix_dashboards.validate import target_problems

_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_DURATION = {"type": "string", "pattern": r"^(0|([0-9]+(ms|s|m|h|d|w))+)$"}
_UID = {"type": "string", "minLength": 1, "maxLength": 40, "pattern": "^[a-zA-Z0-9-_]+$"}
_TITLE = {"type": "string", "minLength": 1, "maxLength": 190}

ALERT_QUERY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["refId", "datasourceUid", "relativeTimeRange", "model"],
    "properties": {
        "refId": {"type": "string", "minLength": 1},
        "queryType": {"type": "string"},
        "datasourceUid": {"type": "string", "minLength": 1},
        "relativeTimeRange": {
            "type": "object",
            "additionalProperties": False,
            "required": ["from", "to"],
            "properties": {"from": {"type": "integer", "minimum": 0}, "to": {"type": "integer", "minimum": 0}},
        },
        "model": {"type": "object", "required": ["refId"]},
    },
}
PROVISIONED_ALERT_RULE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["orgID", "folderUID", "ruleGroup", "title", "condition", "data", "noDataState", "execErrState", "for"],
    "properties": {
        "uid": _UID,
        "orgID": {"type": "integer", "minimum": 1},
        "folderUID": _UID,
        "ruleGroup": _TITLE,
        "title": _TITLE,
        "condition": {"type": "string", "minLength": 1},
        "data": {"type": "array", "minItems": 1, "items": ALERT_QUERY},
        "noDataState": {"enum": ["Alerting", "NoData", "OK"]},
        "execErrState": {"enum": ["OK", "Alerting", "Error"]},
        "for": _DURATION,
        "keep_firing_for": _DURATION,
        "annotations": _STRING_MAP,
        "labels": _STRING_MAP,
        "isPaused": {"type": "boolean"},
        "notification_settings": {"type": "object", "required": ["receiver"]},
    },
}
ALERT_RULE_GROUP = {
    "type": "object",
    "additionalProperties": False,
    "required": ["title", "folderUid", "interval", "rules"],
    "properties": {
        "title": _TITLE,
        "folderUid": _UID,
        "interval": {"type": "integer", "minimum": 10},
        "rules": {"type": "array", "items": PROVISIONED_ALERT_RULE},
    },
}
ROUTE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["receiver"],
    "properties": {
        "receiver": {"type": "string", "minLength": 1},
        "object_matchers": {
            "type": "array",
            "items": {
                "type": "array",
                "minItems": 3,
                "maxItems": 3,
                "items": [{"type": "string"}, {"enum": ["=", "!=", "=~", "!~"]}, {"type": "string"}],
            },
        },
        "group_by": {"type": "array", "items": {"type": "string"}},
        "group_wait": _DURATION,
        "group_interval": _DURATION,
        "repeat_interval": _DURATION,
        "continue": {"type": "boolean"},
        "routes": {"type": "array", "items": {"$ref": "#"}},
    },
}
EXPRESSION_TYPES = {"math", "reduce", "resample", "classic_conditions", "threshold", "sql"}


@cache
def _validator(schema_name: str) -> jsonschema.Draft7Validator:
    schema = {"rule": PROVISIONED_ALERT_RULE, "group": ALERT_RULE_GROUP, "route": ROUTE}[schema_name]
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _errors(schema_name: str, value: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in _validator(schema_name).iter_errors(value)
    ]


def rule_problems(rule: dict[str, Any], ds: Datasource) -> list[str]:
    """What Grafana's provisioning API would refuse, or evaluate differently than meant, in `rule`."""
    problems = _errors("rule", rule)
    if problems:
        return problems
    data = rule["data"]
    refs = [q["refId"] for q in data]
    if len(refs) != len(set(refs)):
        problems.append(f"refIds are not unique: {refs}")
    if rule["condition"] not in refs:
        problems.append(f"condition {rule['condition']!r} is none of the refIds {refs}")
    for query in data:
        ref, model = query["refId"], query["model"]
        if model.get("refId") != ref:
            problems.append(f"{ref}: model refId {model.get('refId')!r} differs")
        if query["datasourceUid"] == EXPRESSION_DATASOURCE_UID:
            if model.get("type") not in EXPRESSION_TYPES:
                problems.append(
                    f"{ref}: expression type {model.get('type')!r} is not one of " f"{sorted(EXPRESSION_TYPES)}"
                )
            if model.get("type") == "math":
                missing = [r for r in expression_refs(str(model.get("expression", ""))) if r not in refs]
                if missing or not model.get("expression"):
                    problems.append(f"{ref}: math expression {model.get('expression')!r} reads unknown {missing}")
        elif query["datasourceUid"] != ds.uid:
            problems.append(f"{ref}: queries datasource {query['datasourceUid']!r}, not {ds.uid!r}")
        else:
            problems += [f"{ref}: {p}" for p in target_problems(model, ds)]
    if rule["condition"] in refs:
        condition = data[refs.index(rule["condition"])]
        if condition["datasourceUid"] != EXPRESSION_DATASOURCE_UID:
            problems.append("the condition must be an expression over the queries")
    return problems


def group_problems(group: dict[str, Any], ds: Datasource) -> list[str]:
    problems = _errors("group", group)
    for rule in group.get("rules", []):
        if rule.get("ruleGroup") != group.get("title") or rule.get("folderUID") != group.get("folderUid"):
            problems.append(f"rule {rule.get('uid')}: ruleGroup/folderUID differ from the group's")
        problems += [f"rule {rule.get('uid')}: {p}" for p in rule_problems(rule, ds)]
    return problems


def route_problems(route: dict[str, Any]) -> list[str]:
    return _errors("route", route)
