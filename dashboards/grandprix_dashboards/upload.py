"""Uploads the generated dashboards to a Grafana server through its HTTP API (grafana-client).

The server and credentials come from the environment: `GRAFANA_URL` (e.g. `https://grafana.example.com`)
and `GRAFANA_TOKEN` (a service-account token). Uploading is idempotent: folders are created once
(by uid) and dashboards are saved with `overwrite`, keyed by their uid.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError

from grandprix_dashboards.build import folder_title
from grandprix_dashboards.catalog import dashboards
from grandprix_dashboards.datasources import Datasource
from grandprix_dashboards.grafana import dashboard

URL_ENV = "GRAFANA_URL"
TOKEN_ENV = "GRAFANA_TOKEN"


@dataclass(frozen=True)
class Uploaded:
    uid: str
    url: str
    version: int


def api_from_env(env: Mapping[str, str] = os.environ) -> GrafanaApi:
    missing = [name for name in (URL_ENV, TOKEN_ENV) if not env.get(name)]
    if missing:
        raise ValueError(f"upload needs the Grafana server and token: set {' and '.join(missing)}")
    return GrafanaApi.from_url(env[URL_ENV], credential=env[TOKEN_ENV], timeout=30.0)


def ensure_folder(api: GrafanaApi, uid: str, title: str) -> str:
    try:
        api.folder.get_folder(uid)
    except GrafanaClientError as exc:
        if exc.status_code != 404:
            raise
        api.folder.create_folder(title, uid=uid)
    return uid


def upload(api: GrafanaApi, datasources: list[Datasource],
           message: str = "grandprix_dashboards upload") -> list[Uploaded]:
    """Saves every dashboard for each datasource into the datasource's folder; returns what was saved."""
    saved: list[Uploaded] = []
    for ds in datasources:
        folder_uid = ensure_folder(api, f"gpi-{ds.key}", folder_title(ds))
        for spec in dashboards():
            payload: dict[str, Any] = {"dashboard": dashboard(spec, ds), "folderUid": folder_uid, "overwrite": True,
                                       "message": message}
            result = api.dashboard.update_dashboard(payload)
            saved.append(Uploaded(uid=str(result.get("uid")), url=str(result.get("url", "")),
                                  version=int(result.get("version", 0))))
    return saved
