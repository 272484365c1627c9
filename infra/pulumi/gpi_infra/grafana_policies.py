"""CrossGuard policies of the Grafana stack: no secret in plain configuration, every alert rule reaches a
contact point of the stack. Added to the pack in `policy_pack/__main__.py`; tests call `validate` directly.

Properties are the engine's camelCase names. A Pulumi secret reaches a policy either as its plain value or,
under the SDK's mocks, as the secret envelope `{"4dabf1...": "1b4706...", "value": ...}`; both are handled.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from pulumi_policy import Policy, PolicyResource, ReportViolation, ResourceValidationArgs, StackValidationArgs

from f1common.grafana import SNOWFLAKE_PLUGINS
from f1common.json_paths import matching_paths
from gpi_infra.crossguard import of_type, resource_policy, stack_policy

DATASOURCE = "grafana:oss/dataSource:DataSource"
DASHBOARD = "grafana:oss/dashboard:Dashboard"
RULE_GROUP = "grafana:alerting/ruleGroup:RuleGroup"
CONTACT_POINT = "grafana:alerting/contactPoint:ContactPoint"
NOTIFICATION_POLICY = "grafana:alerting/notificationPolicy:NotificationPolicy"
PROVIDER = "pulumi:providers:grafana"
SECRET_SIG = "4dabf18193072939515e22adb298388d"
# Keys that hold credentials in a datasource's or integration's settings; they belong in secure fields.
SECRET_KEYS = re.compile(
    r"(?i)^(password|privatekey|private_key|token|pattoken|pat|secret|clientsecret|apikey|"
    r"basicauthpassword|authorization_credentials)$"
)
PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")


def _unwrap(value: Any) -> Any:
    return value.get("value") if isinstance(value, dict) and SECRET_SIG in value else value


def _json(value: Any) -> Any:
    value = _unwrap(value)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _is_pem(value: Any) -> bool:
    value = _json(value)
    return isinstance(value, str) and PEM.search(value) is not None


def _is_secret(container: Any, key: Any, item: Any) -> bool:
    """A credential-named key with a non-empty value, or a PEM private key."""
    named = isinstance(container, dict) and SECRET_KEYS.match(str(key)) is not None
    return (named and item not in (None, "", False)) or _is_pem(item)


def _secret_keys(value: Any) -> Iterator[str]:
    """Paths of credential-named keys with a non-empty value, and of PEM private keys anywhere."""
    if _is_pem(value):
        yield "(value)"
    yield from matching_paths(value, _is_secret, decode=_json)


# Plain (not secure) properties of each resource type that must never hold a credential.
PLAIN_PROPERTIES = {
    DATASOURCE: ("jsonDataEncoded", "httpHeaders", "url", "username", "basicAuthUsername"),
    DASHBOARD: ("configJson",),
    RULE_GROUP: ("rules",),
    NOTIFICATION_POLICY: ("policies",),
}


@resource_policy(
    "grafana-no-plain-secrets",
    "No credential (password, token, private key) in a plain Grafana property: datasource jsonData, "
    "dashboards, rules, policies, contact point settings; Snowflake datasources carry their key in secureJsonData.",
)
def no_plain_secrets(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for prop in PLAIN_PROPERTIES.get(args.resource_type, ()):
        for path in _secret_keys(args.props.get(prop)):
            report_violation(f"{args.name}: a credential in the plain property {prop}{path}; use a secure field", None)
    if args.resource_type == CONTACT_POINT:
        for kind in ("emails", "webhooks", "slacks", "pagerduties"):
            for i, integration in enumerate(args.props.get(kind) or []):
                for path in _secret_keys((integration or {}).get("settings")):
                    report_violation(f"{args.name}: a credential in {kind}[{i}].settings{path}", None)
    if args.resource_type == DATASOURCE and args.props.get("type") in {p.plugin_id for p in SNOWFLAKE_PLUGINS}:
        secure = _json(args.props.get("secureJsonDataEncoded")) or {}
        if not (isinstance(secure, dict) and secure.get("privateKey")):
            report_violation(
                f"{args.name}: a Snowflake datasource takes its key in secureJsonDataEncoded.privateKey", None
            )


def _matches(matchers: list[dict[str, Any]], labels: dict[str, str]) -> bool:
    def one(m: dict[str, Any]) -> bool:
        value, actual = str(m.get("value", "")), labels.get(str(m.get("label")), "")
        op = m.get("match")
        if op == "=":
            return actual == value
        if op == "!=":
            return actual != value
        if op == "=~":
            return re.fullmatch(value, actual) is not None
        if op == "!~":
            return re.fullmatch(value, actual) is None
        return False

    return all(one(m) for m in matchers)


def route_receiver(policy: dict[str, Any], labels: dict[str, str]) -> str | None:
    """The contact point a notification policy tree sends `labels` to (first matching route, depth first)."""

    def walk(node: dict[str, Any], inherited: str | None) -> str | None:
        receiver = node.get("contactPoint") or inherited
        for child in node.get("policies") or []:
            if _matches(list(child.get("matchers") or []), labels):
                return walk(child, receiver)
        return receiver

    return walk(policy, None)


@stack_policy(
    "grafana-rules-have-contact-points",
    "Every Grafana alert rule reaches a contact point of this stack (its notification settings, or "
    "the notification policy route its labels match), and every contact point has an integration.",
)
def rules_have_contact_points(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    contact_points: dict[str, PolicyResource] = {}
    for r in of_type(args.resources, CONTACT_POINT):
        integrations = sum(
            len(r.props.get(k) or []) for k in ("emails", "webhooks", "slacks", "pagerduties", "opsgenies", "teams")
        )
        if integrations == 0:
            report_violation(f"contact point {r.props.get('name')} has no integration", r.urn)
        contact_points[str(r.props.get("name"))] = r
    policies = list(of_type(args.resources, NOTIFICATION_POLICY))
    for group in of_type(args.resources, RULE_GROUP):
        for rule in group.props.get("rules") or []:
            labels = {str(k): str(v) for k, v in (rule.get("labels") or {}).items()}
            receiver = (rule.get("notificationSettings") or {}).get("contactPoint")
            if receiver is None and policies:
                receiver = route_receiver(dict(policies[0].props), labels)
            title = rule.get("name") or rule.get("uid")
            if receiver is None:
                report_violation(
                    f"alert rule {title!r} reaches no contact point: name one in its notification "
                    "settings or add a notification policy",
                    group.urn,
                )
            elif str(receiver) not in contact_points:
                report_violation(
                    f"alert rule {title!r} is routed to {receiver!r}, which is no contact point of "
                    f"this stack ({sorted(contact_points)})",
                    group.urn,
                )


GRAFANA_POLICIES: list[Policy] = [no_plain_secrets, rules_have_contact_points]
