"""Writes the dashboard JSON files and Grafana provisioning YAML (datasources + dashboard providers).

Layout of the output directory:

    dashboards/<datasource>/<dashboard>.json
    provisioning/datasources/grand-prix-insights.yaml
    provisioning/dashboards/grand-prix-insights.yaml
    provisioning/alerting/grand-prix-insights.yaml   (alert rules per folder, contact point, policy)

Mount `provisioning/` as Grafana's provisioning directory and `dashboards/` at `grafana_dashboards_dir`.
Secrets and machine paths are left to Grafana's `$ENV` expansion in provisioning files.

The Pulumi Grafana stack (`infra/pulumi/grafana`) deploys this same output: the dashboards from
`dashboards/<datasource>/`, the alert rules and the notification route from the alerting file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from f1common import grafana as f1grafana
from grandprix_dashboards import alerts
from grandprix_dashboards.alert_validate import route_problems, rule_problems
from grandprix_dashboards.catalog import dashboards
from grandprix_dashboards.datasources import DUCKDB, Datasource
from grandprix_dashboards.grafana import dashboard
from grandprix_dashboards.validate import all_problems

PROVISIONING_NAME = "grand-prix-insights.yaml"
DEFAULT_GRAFANA_DASHBOARDS_DIR = "/var/lib/grafana/dashboards/grand-prix-insights"


@dataclass(frozen=True)
class BuildResult:
    dashboards: list[Path]
    provisioning: list[Path]


# Grafana expands $VARS in provisioning files: the connection comes from the environment of the server.
SNOWFLAKE_ENV = f1grafana.SnowflakeConnection(
    account="${GPI_SNOWFLAKE_ACCOUNT}",
    user="${GPI_SNOWFLAKE_USER}",
    role="${GPI_SNOWFLAKE_ROLE}",
    warehouse="${GPI_SNOWFLAKE_WAREHOUSE}",
    database="${GPI_SNOWFLAKE_DATABASE}",
    schema="ANALYTICS",
)


def folder_title(ds: Datasource) -> str:
    return ds.name  # "Grand Prix Insights (DuckDB)", "... (Snowflake)", "... (Snowflake, open source)"


def folder_uid(ds: Datasource) -> str:
    return f"gpi-{ds.key}"


def datasource_provisioning(ds: Datasource, *, default: bool) -> dict[str, Any]:
    """One datasource entry of Grafana's datasource provisioning file."""
    entry: dict[str, Any] = {
        "name": ds.name,
        "uid": ds.uid,
        "type": ds.plugin,
        "access": "proxy",
        "isDefault": default,
        "editable": False,
    }
    if ds is DUCKDB:
        entry["jsonData"] = {"path": "${GPI_WAREHOUSE_PATH}", "readOnly": True}
    elif ds.contract in f1grafana.SNOWFLAKE_PLUGINS:
        entry["jsonData"] = f1grafana.snowflake_json_data(ds.contract, SNOWFLAKE_ENV)
        # Michelin's plugin wants the key's URL-safe base64 body: set the variable to that form (README).
        entry["secureJsonData"] = {"privateKey": "${GPI_SNOWFLAKE_PRIVATE_KEY}"}
    else:
        raise ValueError(f"no provisioning known for datasource {ds.key!r}")
    return entry


def alerting_provisioning(datasources: list[Datasource]) -> dict[str, Any]:
    """The alerting provisioning file: every rule for each datasource's folder, checked like the API would."""
    folders = {folder_uid(ds): (folder_title(ds), ds) for ds in datasources}
    data = alerts.provisioning_file(alerts.rule_groups(), folders)
    for ds in datasources:
        for group in alerts.rule_groups():
            for rule in group.rules:
                problems = rule_problems(
                    alerts.provisioned_rule(rule, ds, folder_uid=folder_uid(ds), group=group.name), ds
                )
                if problems:
                    raise ValueError(f"alert rule {rule.uid!r} for {ds.key} is invalid: " + "; ".join(problems))
    problems = route_problems(alerts.route())
    if problems:
        raise ValueError("the notification route is invalid: " + "; ".join(problems))
    return data


def provider(ds: Datasource, grafana_dashboards_dir: str) -> dict[str, Any]:
    return {
        "name": f"grand-prix-insights-{ds.key}",
        "orgId": 1,
        "folder": folder_title(ds),
        "folderUid": folder_uid(ds),
        "type": "file",
        "disableDeletion": False,
        "allowUiUpdates": False,
        "updateIntervalSeconds": 60,
        "options": {"path": f"{grafana_dashboards_dir.rstrip('/')}/{ds.key}", "foldersFromFilesStructure": False},
    }


def build(
    out: Path, datasources: list[Datasource], grafana_dashboards_dir: str = DEFAULT_GRAFANA_DASHBOARDS_DIR
) -> BuildResult:
    """Writes every dashboard for each datasource plus the provisioning files; returns the paths."""
    if not datasources:
        raise ValueError("build needs at least one datasource")
    written: list[Path] = []
    for ds in datasources:
        folder = out / "dashboards" / ds.key
        folder.mkdir(parents=True, exist_ok=True)
        for spec in dashboards():
            data = dashboard(spec, ds)
            problems = all_problems(data, ds)
            if problems:
                raise ValueError(f"dashboard {spec.title!r} for {ds.key} is invalid: " + "; ".join(problems))
            path = folder / f"{spec.slug}.json"
            path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
            written.append(path)
    ds_file = out / "provisioning" / "datasources" / PROVISIONING_NAME
    dash_file = out / "provisioning" / "dashboards" / PROVISIONING_NAME
    alert_file = out / "provisioning" / "alerting" / PROVISIONING_NAME
    for path in (ds_file, dash_file, alert_file):
        path.parent.mkdir(parents=True, exist_ok=True)
    ds_file.write_text(
        yaml.safe_dump(
            {
                "apiVersion": 1,
                "datasources": [datasource_provisioning(ds, default=i == 0) for i, ds in enumerate(datasources)],
            },
            sort_keys=False,
        )
    )
    dash_file.write_text(
        yaml.safe_dump(
            {"apiVersion": 1, "providers": [provider(ds, grafana_dashboards_dir) for ds in datasources]},
            sort_keys=False,
        )
    )
    alert_file.write_text(yaml.safe_dump(alerting_provisioning(datasources), sort_keys=False))
    return BuildResult(dashboards=written, provisioning=[ds_file, dash_file, alert_file])
