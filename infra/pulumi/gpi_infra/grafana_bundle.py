"""The dashboards build (`python -m grandprix_dashboards build`) as the Grafana stack deploys it.

The stack deploys exactly what the build wrote for Grafana's file provisioning, for one datasource plugin:
`dashboards/<key>/*.json`, the folder of `provisioning/dashboards/`, the rule groups of that folder and the
project's notification route from `provisioning/alerting/`. :func:`for_stage` then gives every uid the stage's
suffix (dev and prod can share a Grafana organisation) and points every query at the stage's datasource.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from f1common.grafana import DatasourcePlugin, stage_uid

PROVISIONING_NAME = "grand-prix-insights.yaml"


@dataclass(frozen=True)
class GrafanaBundle:
    datasource: DatasourcePlugin
    folder_uid: str
    folder_title: str
    dashboards: dict[str, dict[str, Any]]  # uid -> dashboard JSON
    rule_groups: list[dict[str, Any]]  # Grafana's file-provisioning groups (name, interval, rules)
    contact_point: str  # the contact point name the route sends to
    route: dict[str, Any]  # the project's notification policy route (receiver, object_matchers, group_by, ...)


def _yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: build the dashboards first (infra/pulumi/README.md, Grafana)")
    return dict(yaml.safe_load(path.read_text(encoding="utf-8")) or {})


def read_bundle(build_dir: Path, ds: DatasourcePlugin) -> GrafanaBundle:
    """The build's objects for `ds`; a clear error when the build lacks that datasource or is inconsistent."""
    folder = build_dir / "dashboards" / ds.key
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is missing: build with --datasource {ds.key} (or all)")
    dashboards = {}
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        dashboards[str(data["uid"])] = data
    if not dashboards:
        raise ValueError(f"{folder} holds no dashboard")
    providers = _yaml(build_dir / "provisioning" / "dashboards" / PROVISIONING_NAME)["providers"]
    provider = next((p for p in providers if p["name"] == f"grand-prix-insights-{ds.key}"), None)
    if provider is None:
        raise ValueError(f"the build's dashboard provisioning has no provider for {ds.key}")
    alerting = _yaml(build_dir / "provisioning" / "alerting" / PROVISIONING_NAME)
    groups = [g for g in alerting.get("groups", []) if g["folder"] == provider["folder"]]
    contact = alerting["contactPoints"][0]["name"]
    routes = [r for p in alerting.get("policies", []) for r in p.get("routes", []) if r["receiver"] == contact]
    if len(routes) != 1:
        raise ValueError(f"the build's alerting file needs exactly one route to {contact!r}, found {len(routes)}")
    for group in groups:
        for rule in group["rules"]:
            queried = {q["datasourceUid"] for q in rule["data"]} - {"__expr__"}
            if queried != {ds.uid}:
                raise ValueError(f"rule {rule['uid']} queries {sorted(queried)}, not {ds.uid}")
    return GrafanaBundle(
        ds, str(provider["folderUid"]), str(provider["folder"]), dashboards, groups, contact, routes[0]
    )


def _retarget(value: Any, uids: dict[str, str]) -> Any:
    """`value` with datasource references (`{"type", "uid"}`, `datasourceUid`) and dashboard links renamed."""
    if isinstance(value, dict):
        out = {k: _retarget(v, uids) for k, v in value.items()}
        for key in ("uid", "datasourceUid", "__dashboardUid__"):
            if isinstance(out.get(key), str) and out[key] in uids and (key != "uid" or "type" in out):
                out[key] = uids[out[key]]
        return out
    if isinstance(value, list):
        return [_retarget(v, uids) for v in value]
    return value


def for_stage(bundle: GrafanaBundle, stage: str) -> GrafanaBundle:
    """The bundle as deployed for `stage`: uids of the dashboards, rules and datasource get the stage suffix."""
    ds = bundle.datasource.for_stage(stage)
    uids = {bundle.datasource.uid: ds.uid, **{uid: stage_uid(uid, stage) for uid in bundle.dashboards}}
    dashboards = {}
    for uid, data in bundle.dashboards.items():
        staged = _retarget(data, uids)
        staged["uid"] = uids[uid]
        dashboards[staged["uid"]] = staged
    groups = []
    for group in bundle.rule_groups:
        rules = [
            {
                **_retarget(rule, uids),
                "uid": stage_uid(rule["uid"], stage),
                "labels": {**rule.get("labels", {}), "stage": stage},
            }
            for rule in group["rules"]
        ]
        groups.append({**group, "rules": rules})
    return GrafanaBundle(
        ds,
        stage_uid(bundle.folder_uid, stage),
        f"{bundle.folder_title} {stage}",
        dashboards,
        groups,
        bundle.contact_point,
        bundle.route,
    )
