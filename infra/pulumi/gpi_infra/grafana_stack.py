"""The Grafana stack: the Snowflake datasource (fed by the Snowflake stack's reporter outputs), a folder per
stage with every generated dashboard and alert rule (the dashboards build, see grafana_bundle), a contact point
and the notification policy routing the rules to it.

`grafana_program` takes its configuration, the Snowflake outputs and the build as arguments; the project's
`__main__.py` reads them (config, StackReference, build directory), so tests run it under mocks.
"""

from __future__ import annotations

from typing import Any

from gpi_infra.components.grafana import (
    AlertRouting,
    AlertRoutingArgs,
    DashboardFolder,
    DashboardFolderArgs,
    ReporterOutputs,
    SnowflakeDatasource,
    SnowflakeDatasourceArgs,
)
from gpi_infra.grafana_bundle import GrafanaBundle, for_stage
from gpi_infra.grafana_config import GrafanaStackConfig


def grafana_program(cfg: GrafanaStackConfig, snowflake: ReporterOutputs, build: GrafanaBundle) -> dict[str, Any]:
    """Declares the stage's Grafana objects; returns the stack outputs."""
    if build.datasource.key != cfg.plugin:
        raise ValueError(f"the build is for {build.datasource.key}, the stack's plugin is {cfg.plugin}")
    staged = for_stage(build, cfg.stage)
    datasource = SnowflakeDatasource(
        "snowflake",
        SnowflakeDatasourceArgs(plugin=staged.datasource, reporter=snowflake),
    )
    route = {**staged.route, "object_matchers": [*staged.route["object_matchers"], ["stage", "=", cfg.stage]]}
    routing = AlertRouting(
        "alerts",
        AlertRoutingArgs(
            contact_point=f"{staged.contact_point}-{cfg.stage}",
            emails=cfg.alert_emails,
            route=route,
            notification_policy=cfg.notification_policy,
        ),
    )
    folder = DashboardFolder(
        "folder",
        DashboardFolderArgs(
            folder_uid=staged.folder_uid,
            title=staged.folder_title,
            dashboards=staged.dashboards,
            rule_groups=staged.rule_groups,
            contact_point=None if cfg.notification_policy else routing.contact_point.name,
            depends_on=[datasource, routing],
        ),
    )
    return {
        "datasource_uid": datasource.datasource.uid,
        "datasource_type": datasource.datasource.type,
        "folder_uid": folder.folder.uid,
        "dashboards": sorted(folder.dashboards),
        "alert_rules": sorted(r["uid"] for g in staged.rule_groups for r in g["rules"]),
        "contact_point": routing.contact_point.name,
    }
