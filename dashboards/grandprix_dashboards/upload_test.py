"""Upload through grafana-client to a local HTTP server on 127.0.0.1 that answers like Grafana's HTTP API and
checks the shape of every body it receives (datasources, folders, dashboards, alerting provisioning)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from f1common.grafana import SnowflakeConnection
from grandprix_dashboards import alerts
from grandprix_dashboards.__main__ import main
from grandprix_dashboards.alert_validate import group_problems, route_problems, rule_problems
from grandprix_dashboards.catalog import dashboards
from grandprix_dashboards.datasources import DATASOURCES, DUCKDB, MICHELIN, SNOWFLAKE
from grandprix_dashboards.upload import SnowflakeAccess, access_from_env, api_from_env, merge_route, upload
from grandprix_dashboards.validate import all_problems

PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC+/==\n-----END PRIVATE KEY-----\n"
ACCESS = SnowflakeAccess(
    SnowflakeConnection("ACME-GPI", "GPI_DEV_GRAFANA_SVC", "GPI_DEV_REPORTER", "GPI_DEV_BI_WH", "GPI_DEV", "ANALYTICS"),
    PEM,
)
OTHER_ROUTE = {"receiver": "ops", "object_matchers": [["team", "=", "ops"]]}
DS_KEYS = {"name", "uid", "type", "access", "isDefault", "jsonData", "secureJsonData"}


class FakeGrafana(BaseHTTPRequestHandler):
    """The endpoints upload uses, with Grafana's status codes; a body of the wrong shape gets a 400."""

    calls: list[tuple[str, str, Any, str | None]] = []
    store: dict[str, dict[str, Any]] = {}

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length)) if length else None

    def _record(self, method: str) -> tuple[str, Any]:
        body = self._body() if method in ("POST", "PUT") else None
        self.calls.append((method, self.path, body, self.headers.get("Authorization")))
        return urlparse(self.path).path, body

    def _get(self, kind: str, key: str) -> None:
        if key in self.store.setdefault(kind, {}):
            self._reply(200, self.store[kind][key])
        else:
            self._reply(404, {"message": f"{kind} not found"})

    def do_GET(self) -> None:
        path, _ = self._record("GET")
        query = parse_qs(urlparse(self.path).query)
        if path.startswith("/api/folders/"):
            self._get("folders", path.rsplit("/", 1)[1])
        elif path.startswith("/api/datasources/uid/"):
            self._get("datasources", path.rsplit("/", 1)[1])
        elif path.startswith("/api/v1/provisioning/alert-rules/"):
            self._get("rules", path.rsplit("/", 1)[1])
        elif path == "/api/v1/provisioning/contact-points":
            names = query.get("name", [])
            self._reply(200, [c for c in self.store.get("contacts", {}).values() if not names or c["name"] in names])
        elif path == "/api/v1/provisioning/policies":
            self._reply(200, self.store.get("policy", {}).get("tree", {"receiver": "default", "routes": [OTHER_ROUTE]}))
        else:
            self._reply(404, {"message": "not found"})

    def _check(self, problems: list[str]) -> bool:
        if problems:
            self._reply(400, {"message": "; ".join(problems)})
        return not problems

    def _save(self, method: str) -> None:
        path, body = self._record(method)
        rules = self.store.setdefault("rules", {})
        if (
            method == "POST"
            and path == "/api/folders"
            and self._check([] if {"uid", "title"} <= set(body) else ["folder needs uid and title"])
        ):
            self.store.setdefault("folders", {})[body["uid"]] = body
            self._reply(200, body)
        elif method == "POST" and path == "/api/dashboards/db":
            uid = body["dashboard"]["uid"]
            ds = next(d for d in DATASOURCES.values() if uid.endswith(f"-{d.key}"))
            if self._check(
                all_problems(body["dashboard"], ds)
                + ([] if body.get("folderUid") in self.store.get("folders", {}) else ["no folder"])
            ):
                self._reply(200, {"status": "success", "uid": uid, "url": f"/d/{uid}", "version": 1})
        elif (method == "POST" and path == "/api/datasources") or path.startswith("/api/datasources/uid/"):
            if self._check([] if set(body) == DS_KEYS else [f"datasource keys {sorted(body)}"]):
                self.store.setdefault("datasources", {})[body["uid"]] = body
                self._reply(200, {"datasource": body, "message": "Datasource added"})
        elif path.startswith("/api/v1/provisioning/alert-rules"):
            ds = next(d for d in DATASOURCES.values() if body.get("uid", "").endswith(f"-{d.key}"))
            exists = body["uid"] in rules
            if method == "POST" and exists:
                self._reply(409, {"message": "rule exists"})
            elif method == "PUT" and (not exists or not path.endswith(body["uid"])):
                self._reply(404, {"message": "rule not found"})
            elif self._check(rule_problems(body, ds)):
                rules[body["uid"]] = body
                self._reply(201 if method == "POST" else 200, body)
        elif method == "PUT" and path.startswith("/api/v1/provisioning/folder/"):
            folder, group = path.split("/")[5], path.split("/")[7]
            ds = next(d for d in DATASOURCES.values() if folder == f"gpi-{d.key}")
            missing = [r["uid"] for r in body["rules"] if r["uid"] not in rules]
            if self._check(
                group_problems(body, ds)
                + ([] if body["title"] == group and body["folderUid"] == folder else ["path and body disagree"])
                + missing
            ):
                self._reply(200, body)
        elif path.startswith("/api/v1/provisioning/contact-points"):
            if self._check([] if {"name", "type", "settings"} <= set(body) else ["contact point shape"]):
                uid = body.get("uid") or "cp-1"
                self.store.setdefault("contacts", {})[uid] = {**body, "uid": uid}
                self._reply(202, {**body, "uid": uid})
        elif method == "PUT" and path == "/api/v1/provisioning/policies":
            if self._check(route_problems(body)):
                self.store.setdefault("policy", {})["tree"] = body
                self._reply(202, {"message": "policies updated"})
        else:
            self._reply(404, {"message": "not found"})

    def do_POST(self) -> None:
        self._save("POST")

    def do_PUT(self) -> None:
        self._save("PUT")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def grafana() -> Iterator[str]:
    FakeGrafana.calls = []
    FakeGrafana.store = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGrafana)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _calls(method: str, prefix: str) -> list[tuple[str, Any]]:
    return [(p, b) for m, p, b, _ in FakeGrafana.calls if m == method and p.startswith(prefix)]


def test_upload_creates_folders_once_and_saves_every_dashboard(grafana: str) -> None:
    api = api_from_env({"GRAFANA_URL": grafana, "GRAFANA_TOKEN": "glsa_test"})
    saved = upload(api, [DUCKDB, SNOWFLAKE])
    specs = dashboards()
    assert [s.uid for s in saved] == [f"{d.uid}-{ds}" for ds in ("duckdb", "snowflake") for d in specs]
    assert [b["uid"] for _, b in _calls("POST", "/api/folders")] == ["gpi-duckdb", "gpi-snowflake"]
    assert len(_calls("POST", "/api/dashboards/db")) == 2 * len(specs)
    assert all(auth == "Bearer glsa_test" for *_, auth in FakeGrafana.calls)
    assert not _calls("POST", "/api/datasources") and not _calls("POST", "/api/v1/provisioning")
    upload(api, [DUCKDB])  # idempotent: the folder exists now and is not created again
    assert len(_calls("POST", "/api/folders")) == 2


def test_upload_creates_datasource_rules_contact_point_and_route(grafana: str) -> None:
    api = api_from_env({"GRAFANA_URL": grafana, "GRAFANA_TOKEN": "glsa_test"})
    saved = upload(api, [SNOWFLAKE, MICHELIN], access=ACCESS, alert_email="race-ops@example.com")
    kinds = [s.kind for s in saved]
    assert kinds.count("datasource") == 2 and kinds.count("contact-point") == 1 and kinds[-1] == "policy"
    rules = [r.uid for g in alerts.rule_groups() for r in g.rules]
    assert [s.uid for s in saved if s.kind == "alert-rule"] == [
        f"{r}-{k}" for k in ("snowflake", "michelin") for r in rules
    ]
    stored = FakeGrafana.store["datasources"]
    assert stored["gpi-snowflake"]["secureJsonData"] == {"privateKey": PEM}
    assert stored["gpi-snowflake"]["jsonData"]["authType"] == "keypair"
    assert stored["gpi-snowflake-oss"]["secureJsonData"] == {"privateKey": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC-_=="}
    assert stored["gpi-snowflake-oss"]["jsonData"]["username"] == "GPI_DEV_GRAFANA_SVC"
    groups = _calls("PUT", "/api/v1/provisioning/folder/")
    assert [p for p, _ in groups] == [
        f"/api/v1/provisioning/folder/gpi-{k}/rule-groups/{g.name}"
        for k in ("snowflake", "michelin")
        for g in alerts.rule_groups()
    ]
    tree = FakeGrafana.store["policy"]["tree"]
    assert tree["routes"] == [alerts.route(), OTHER_ROUTE] and tree["receiver"] == "default"
    assert FakeGrafana.store["contacts"]["cp-1"]["settings"] == {"addresses": "race-ops@example.com"}

    # Second run: everything updated in place, nothing duplicated.
    again = upload(api, [SNOWFLAKE, MICHELIN], access=ACCESS, alert_email="race-ops@example.com")
    assert {s.detail for s in again if s.kind in ("datasource", "alert-rule", "contact-point")} == {"updated"}
    assert len(_calls("POST", "/api/v1/provisioning/alert-rules")) == 2 * len(rules)
    assert len(_calls("POST", "/api/datasources")) == 2
    assert FakeGrafana.store["policy"]["tree"]["routes"] == [alerts.route(), OTHER_ROUTE]


def test_upload_stops_on_a_refused_body(grafana: str) -> None:
    api = api_from_env({"GRAFANA_URL": grafana, "GRAFANA_TOKEN": "t"})
    bad = SnowflakeAccess(ACCESS.connection, "not a pem")
    with pytest.raises(ValueError, match="PKCS#8 PEM"):
        upload(api, [MICHELIN], access=bad)
    assert merge_route({})["receiver"] == alerts.CONTACT_POINT


def test_cli_upload_with_datasource_and_alerts(
    grafana: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "grafana_key.p8"
    key.write_text(PEM)
    env = {
        "GRAFANA_URL": grafana,
        "GRAFANA_TOKEN": "t",
        "GPI_SNOWFLAKE_ACCOUNT": "ACME-GPI",
        "GPI_SNOWFLAKE_USER": "U",
        "GPI_SNOWFLAKE_ROLE": "R",
        "GPI_SNOWFLAKE_WAREHOUSE": "W",
        "GPI_SNOWFLAKE_DATABASE": "D",
        "GPI_SNOWFLAKE_PRIVATE_KEY_FILE": str(key),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["upload", "--datasource", "michelin", "--create-datasource", "--alert-email", "a@b.c"]) == 0
    out = capsys.readouterr().out
    assert "datasource gpi-snowflake-oss created" in out and "policy grand-prix-insights route set" in out
    monkeypatch.delenv("GPI_SNOWFLAKE_ROLE")
    assert main(["upload", "--datasource", "michelin", "--create-datasource"]) == 2
    assert "needs GPI_SNOWFLAKE_ROLE" in capsys.readouterr().err


def test_upload_needs_url_and_token() -> None:
    with pytest.raises(ValueError, match="set GRAFANA_URL and GRAFANA_TOKEN"):
        api_from_env({})
    with pytest.raises(ValueError, match="set GRAFANA_TOKEN"):
        api_from_env({"GRAFANA_URL": "http://grafana:3000"})
    with pytest.raises(ValueError, match="GPI_SNOWFLAKE_PRIVATE_KEY_FILE"):
        access_from_env({})
