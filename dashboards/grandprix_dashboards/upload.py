"""Uploads the generated dashboards (and optionally the datasource and the alert rules) to a Grafana server
through its HTTP API (grafana-client), for a server that Pulumi does not manage.

The server and credentials come from the environment: `GRAFANA_URL` (e.g. `https://grafana.example.com`)
and `GRAFANA_TOKEN` (a service-account token with the Editor role, Admin for datasources and alerting).
Every step is idempotent, keyed by uid (or the contact point's name):

| step | API |
|---|---|
| datasource | `GET /api/datasources/uid/{uid}`, then `POST /api/datasources` or `PUT /api/datasources/uid/{uid}` |
| folder | `GET /api/folders/{uid}`, then `POST /api/folders` |
| dashboards | `POST /api/dashboards/db` with `overwrite` |
| contact point | `GET /api/v1/provisioning/contact-points?name=...`, then `POST` or `PUT .../contact-points/{uid}` |
| alert rules | `GET /api/v1/provisioning/alert-rules/{uid}`, then `POST /api/v1/provisioning/alert-rules` or |
|  | `PUT .../alert-rules/{uid}`; `PUT /api/v1/provisioning/folder/{folderUid}/rule-groups/{group}` (interval) |
| notification route | `GET /api/v1/provisioning/policies`, then `PUT` the tree: our route first, others kept |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError

from f1common import grafana as f1grafana
from grandprix_dashboards import alerts
from grandprix_dashboards.build import folder_title, folder_uid
from grandprix_dashboards.catalog import dashboards
from grandprix_dashboards.datasources import Datasource
from grandprix_dashboards.grafana import dashboard

URL_ENV = "GRAFANA_URL"
TOKEN_ENV = "GRAFANA_TOKEN"
# The connection of a Snowflake datasource (the names the provisioning file uses too) and the reporter's key.
CONNECTION_ENV = {
    "account": "GPI_SNOWFLAKE_ACCOUNT",
    "user": "GPI_SNOWFLAKE_USER",
    "role": "GPI_SNOWFLAKE_ROLE",
    "warehouse": "GPI_SNOWFLAKE_WAREHOUSE",
    "database": "GPI_SNOWFLAKE_DATABASE",
}
KEY_FILE_ENV = "GPI_SNOWFLAKE_PRIVATE_KEY_FILE"


@dataclass(frozen=True)
class Uploaded:
    kind: str  # datasource | dashboard | contact-point | alert-rule | policy
    uid: str
    detail: str = ""


@dataclass(frozen=True)
class SnowflakeAccess:
    """What creating the Snowflake datasource needs: the connection and the reporter's private key (PEM)."""

    connection: f1grafana.SnowflakeConnection
    private_key_pem: str


def api_from_env(env: Mapping[str, str] = os.environ) -> GrafanaApi:
    missing = [name for name in (URL_ENV, TOKEN_ENV) if not env.get(name)]
    if missing:
        raise ValueError(f"upload needs the Grafana server and token: set {' and '.join(missing)}")
    return GrafanaApi.from_url(env[URL_ENV], credential=env[TOKEN_ENV], timeout=30.0)


def access_from_env(env: Mapping[str, str] = os.environ, key_file: Path | None = None) -> SnowflakeAccess:
    """The Snowflake connection from `GPI_SNOWFLAKE_*`; the key from `key_file` or `$GPI_SNOWFLAKE_PRIVATE_KEY_FILE`."""
    missing = [var for var in CONNECTION_ENV.values() if not env.get(var)]
    path = key_file or (Path(env[KEY_FILE_ENV]) if env.get(KEY_FILE_ENV) else None)
    if path is None:
        missing.append(f"{KEY_FILE_ENV} (or --private-key-file)")
    if missing:
        raise ValueError(f"creating the Snowflake datasource needs {', '.join(missing)}")
    assert path is not None
    if not path.is_file():
        raise FileNotFoundError(f"no private key file at {path}")
    connection = f1grafana.SnowflakeConnection(schema="ANALYTICS", **{k: env[v] for k, v in CONNECTION_ENV.items()})
    return SnowflakeAccess(connection, path.read_text(encoding="utf-8"))


def _missing(exc: GrafanaClientError) -> bool:
    return exc.status_code == 404


def ensure_folder(api: GrafanaApi, uid: str, title: str) -> str:
    try:
        api.folder.get_folder(uid)
    except GrafanaClientError as exc:
        if not _missing(exc):
            raise
        api.folder.create_folder(title, uid=uid)
    return uid


def datasource_payload(ds: Datasource, access: SnowflakeAccess) -> dict[str, Any]:
    """The datasource as `POST /api/datasources` takes it."""
    if ds.contract not in f1grafana.SNOWFLAKE_PLUGINS:
        raise ValueError(f"upload creates Snowflake datasources only, not {ds.key!r} (provision DuckDB from the file)")
    return {
        "name": ds.name,
        "uid": ds.uid,
        "type": ds.plugin,
        "access": "proxy",
        "isDefault": False,
        "jsonData": f1grafana.snowflake_json_data(ds.contract, access.connection),
        "secureJsonData": f1grafana.snowflake_secure_json_data(ds.contract, access.private_key_pem),
    }


def upsert_datasource(api: GrafanaApi, ds: Datasource, access: SnowflakeAccess) -> Uploaded:
    payload = datasource_payload(ds, access)
    try:
        api.datasource.get_datasource_by_uid(ds.uid)
    except GrafanaClientError as exc:
        if not _missing(exc):
            raise
        api.datasource.create_datasource(payload)
        return Uploaded("datasource", ds.uid, "created")
    api.datasource.update_datasource_by_uid(ds.uid, payload)
    return Uploaded("datasource", ds.uid, "updated")


def upsert_contact_point(api: GrafanaApi, email: str) -> Uploaded:
    payload = {
        "name": alerts.CONTACT_POINT,
        "type": "email",
        "settings": {"addresses": email},
        "disableResolveMessage": False,
    }
    existing = [
        c
        for c in api.alertingprovisioning.get_contactpoints(name=alerts.CONTACT_POINT) or []
        if c.get("name") == alerts.CONTACT_POINT
    ]
    if existing:
        uid = str(existing[0]["uid"])
        api.alertingprovisioning.update_contactpoint(uid, {**payload, "uid": uid})
        return Uploaded("contact-point", uid, "updated")
    created = api.alertingprovisioning.create_contactpoint(payload)
    return Uploaded("contact-point", str((created or {}).get("uid", "")), "created")


def upsert_rules(api: GrafanaApi, ds: Datasource, folder: str) -> list[Uploaded]:
    saved = []
    for group in alerts.rule_groups():
        body = alerts.rule_group(group, ds, folder)
        for rule in body["rules"]:
            try:
                api.alertingprovisioning.get_alertrule(rule["uid"])
            except GrafanaClientError as exc:
                if not _missing(exc):
                    raise
                api.alertingprovisioning.create_alertrule(rule)
                saved.append(Uploaded("alert-rule", rule["uid"], "created"))
            else:
                api.alertingprovisioning.update_alertrule(rule["uid"], rule)
                saved.append(Uploaded("alert-rule", rule["uid"], "updated"))
        api.alertingprovisioning.update_rule_group(folder, group.name, body)
    return saved


def merge_route(tree: Mapping[str, Any]) -> dict[str, Any]:
    """The policy tree with the project's route first; other routes (not matching the project) kept as they are."""
    ours = alerts.route()
    others = [r for r in tree.get("routes") or [] if r.get("object_matchers") != ours["object_matchers"]]
    return {**tree, "receiver": tree.get("receiver") or alerts.CONTACT_POINT, "routes": [ours, *others]}


def upload(
    api: GrafanaApi,
    datasources: list[Datasource],
    *,
    access: SnowflakeAccess | None = None,
    alert_email: str | None = None,
    message: str = "grandprix_dashboards upload",
) -> list[Uploaded]:
    """Saves the datasource (with `access`), every dashboard and (with `alert_email`) the alert rules, contact
    point and notification route for each datasource into its folder; returns what was saved."""
    saved: list[Uploaded] = []
    if alert_email:
        saved.append(upsert_contact_point(api, alert_email))
    for ds in datasources:
        if access is not None and ds.contract in f1grafana.SNOWFLAKE_PLUGINS:
            saved.append(upsert_datasource(api, ds, access))
        folder = ensure_folder(api, folder_uid(ds), folder_title(ds))
        for spec in dashboards():
            payload: dict[str, Any] = {
                "dashboard": dashboard(spec, ds),
                "folderUid": folder,
                "overwrite": True,
                "message": message,
            }
            result = api.dashboard.update_dashboard(payload)
            saved.append(
                Uploaded(
                    "dashboard", str(result.get("uid")), f"v{int(result.get('version', 0))} {result.get('url', '')}"
                )
            )
        if alert_email:
            saved += upsert_rules(api, ds, folder)
    if alert_email:
        tree = api.alertingprovisioning.get_notification_policy_tree()
        api.alertingprovisioning.set_notification_policy_tree(merge_route(tree or {}))
        saved.append(Uploaded("policy", alerts.CONTACT_POINT, "route set"))
    return saved
