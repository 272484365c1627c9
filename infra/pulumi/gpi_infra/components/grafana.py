"""Grafana components (pulumiverse-grafana): the Snowflake datasource, a folder with its dashboards and alert
rule groups, and the alert routing (contact point + notification policy)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumiverse_grafana as grafana

from f1common import grafana as f1grafana
from gpi_infra.config import StackOutputs


@dataclass(frozen=True)
class ReporterOutputs(StackOutputs):
    """What the Grafana stack needs from the Snowflake stack (its stack outputs of the same names): where and as
    whom the datasource connects."""

    SECRETS = ("reporter_private_key",)

    account: pulumi.Input[str]
    database: pulumi.Input[str]
    analytics_schema: pulumi.Input[str]
    bi_warehouse: pulumi.Input[str]
    reporter_role: pulumi.Input[str]
    reporter_user: pulumi.Input[str]
    reporter_private_key: pulumi.Input[str]  # secret: the key pair (PKCS#8 PEM) the Snowflake stack generated


@dataclass(frozen=True)
class SnowflakeDatasourceArgs:
    plugin: f1grafana.DatasourcePlugin  # already staged: uid and name of this stage
    reporter: ReporterOutputs


class SnowflakeDatasource(pulumi.ComponentResource):
    """The warehouse as a Grafana datasource, with key-pair auth; the key only in `secureJsonData` (a secret)."""

    def __init__(self, name: str, args: SnowflakeDatasourceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpi:grafana:SnowflakeDatasource", name, None, opts)
        ds, reporter = args.plugin, args.reporter
        conn = pulumi.Output.all(
            reporter.account,
            reporter.reporter_user,
            reporter.reporter_role,
            reporter.bi_warehouse,
            reporter.database,
            reporter.analytics_schema,
        )
        json_data = conn.apply(
            lambda v: json.dumps(
                f1grafana.snowflake_json_data(ds, f1grafana.SnowflakeConnection(*[str(x) for x in v])), sort_keys=True
            )
        )
        encoded: pulumi.Input[str] = pulumi.Output.from_input(reporter.reporter_private_key).apply(
            lambda pem: json.dumps(f1grafana.snowflake_secure_json_data(ds, pem))
        )
        secure: pulumi.Output[str] = pulumi.Output.secret(encoded)
        self.datasource = grafana.oss.DataSource(
            name,
            type=ds.plugin_id,
            uid=ds.uid,
            name=ds.name,
            access_mode="proxy",
            is_default=False,
            json_data_encoded=json_data,
            secure_json_data_encoded=secure,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"uid": self.datasource.uid})


@dataclass(frozen=True)
class DashboardFolderArgs:
    folder_uid: str
    title: str
    dashboards: dict[str, dict[str, Any]]  # uid -> JSON
    rule_groups: list[dict[str, Any]]  # Grafana file-provisioning groups
    contact_point: pulumi.Input[str] | None = None  # set: rules name it (no notification policy routing)
    depends_on: list[pulumi.Resource] = field(default_factory=list)  # the datasource, the routing


def _seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    if not duration or duration[-1] not in units or not duration[:-1].isdigit():
        raise ValueError(f"expected a duration like 300s or 5m, got {duration!r}")
    return int(duration[:-1]) * units[duration[-1]]


def rule_args(rule: dict[str, Any], contact_point: pulumi.Input[str] | None) -> grafana.alerting.RuleGroupRuleArgs:
    """A rule of Grafana's provisioning file as the provider's rule argument (the model as JSON text)."""
    datas = [
        grafana.alerting.RuleGroupRuleDataArgs(
            ref_id=q["refId"],
            datasource_uid=q["datasourceUid"],
            query_type=q.get("queryType", ""),
            model=json.dumps(q["model"], sort_keys=True),
            relative_time_range=grafana.alerting.RuleGroupRuleDataRelativeTimeRangeArgs(
                from_=q["relativeTimeRange"]["from"], to=q["relativeTimeRange"]["to"]
            ),
        )
        for q in rule["data"]
    ]
    settings = (
        grafana.alerting.RuleGroupRuleNotificationSettingsArgs(contact_point=contact_point)
        if contact_point is not None
        else None
    )
    return grafana.alerting.RuleGroupRuleArgs(
        name=rule["title"],
        uid=rule["uid"],
        condition=rule["condition"],
        datas=datas,
        for_=rule["for"],
        no_data_state=rule["noDataState"],
        exec_err_state=rule["execErrState"],
        is_paused=rule.get("isPaused", False),
        labels=rule.get("labels", {}),
        annotations=rule.get("annotations", {}),
        notification_settings=settings,
    )


class DashboardFolder(pulumi.ComponentResource):
    """One folder of a stage: its dashboards and its alert rule groups."""

    def __init__(self, name: str, args: DashboardFolderArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpi:grafana:DashboardFolder", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=args.depends_on)
        self.folder = grafana.oss.Folder(
            name, uid=args.folder_uid, title=args.title, opts=pulumi.ResourceOptions(parent=self)
        )
        self.dashboards = {
            uid: grafana.oss.Dashboard(
                uid,
                folder=self.folder.uid,
                overwrite=True,
                config_json=json.dumps(data, sort_keys=True),
                message="pulumi up",
                opts=child,
            )
            for uid, data in args.dashboards.items()
        }
        self.rule_groups = {
            group["name"]: grafana.alerting.RuleGroup(
                f"{name}-{group['name']}",
                name=group["name"],
                folder_uid=self.folder.uid,
                interval_seconds=_seconds(str(group["interval"])),
                rules=[rule_args(rule, args.contact_point) for rule in group["rules"]],
                opts=child,
            )
            for group in args.rule_groups
        }
        self.register_outputs({"folder": self.folder.uid, "dashboards": list(self.dashboards)})


@dataclass(frozen=True)
class AlertRoutingArgs:
    contact_point: str
    emails: list[str]
    route: dict[str, Any]  # the build's route: object_matchers, group_by, timings
    notification_policy: bool  # own the organisation's policy tree


class AlertRouting(pulumi.ComponentResource):
    """The stage's contact point and (when this stack owns it) the notification policy routing to it."""

    def __init__(self, name: str, args: AlertRoutingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpi:grafana:AlertRouting", name, None, opts)
        if not args.emails:
            raise ValueError("the contact point needs at least one address (alertEmails)")
        self.contact_point = grafana.alerting.ContactPoint(
            name,
            name=args.contact_point,
            emails=[grafana.alerting.ContactPointEmailArgs(addresses=args.emails, single_email=True)],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.policy: grafana.alerting.NotificationPolicy | None = None
        if args.notification_policy:
            route = args.route
            self.policy = grafana.alerting.NotificationPolicy(
                name,
                contact_point=self.contact_point.name,
                group_bies=["grafana_folder", "alertname"],
                policies=[
                    grafana.alerting.NotificationPolicyPolicyArgs(
                        contact_point=self.contact_point.name,
                        group_bies=list(route.get("group_by", [])),
                        group_wait=route.get("group_wait"),
                        group_interval=route.get("group_interval"),
                        repeat_interval=route.get("repeat_interval"),
                        matchers=[
                            grafana.alerting.NotificationPolicyPolicyMatcherArgs(label=label, match=op, value=value)
                            for label, op, value in route.get("object_matchers", [])
                        ],
                    )
                ],
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({"contact_point": self.contact_point.name})
