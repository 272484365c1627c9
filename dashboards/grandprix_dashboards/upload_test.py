"""Upload through grafana-client to a local HTTP server that records the Grafana API calls it receives."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from grandprix_dashboards.catalog import dashboards
from grandprix_dashboards.datasources import DUCKDB, SNOWFLAKE
from grandprix_dashboards.upload import api_from_env, upload


class RecordingGrafana(BaseHTTPRequestHandler):
    """Answers the few endpoints upload uses, like Grafana does; records each request."""

    calls: list[tuple[str, str, dict[str, Any] | None, str | None]] = []
    folders: set[str] = set()

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.calls.append(("GET", self.path, None, self.headers.get("Authorization")))
        uid = self.path.rsplit("/", 1)[-1]
        if self.path.startswith("/api/folders/") and uid in self.folders:
            self._reply(200, {"uid": uid})
        else:
            self._reply(404, {"message": "folder not found"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.calls.append(("POST", self.path, body, self.headers.get("Authorization")))
        if self.path == "/api/folders":
            self.folders.add(body["uid"])
            self._reply(200, {"uid": body["uid"], "title": body["title"]})
        elif self.path == "/api/dashboards/db":
            uid = body["dashboard"]["uid"]
            self._reply(200, {"status": "success", "uid": uid, "url": f"/d/{uid}", "version": 1})
        else:
            self._reply(404, {"message": "not found"})

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def grafana() -> Iterator[str]:
    RecordingGrafana.calls = []
    RecordingGrafana.folders = set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), RecordingGrafana)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_upload_creates_folders_once_and_saves_every_dashboard(grafana: str) -> None:
    api = api_from_env({"GRAFANA_URL": grafana, "GRAFANA_TOKEN": "glsa_test"})
    saved = upload(api, [DUCKDB, SNOWFLAKE])
    specs = dashboards()
    assert [s.uid for s in saved] == [f"{d.uid}-{ds}" for ds in ("duckdb", "snowflake") for d in specs]
    posts = [(path, body) for method, path, body, _ in RecordingGrafana.calls if method == "POST"]
    assert [b["uid"] for p, b in posts if p == "/api/folders" and b] == ["gpi-duckdb", "gpi-snowflake"]
    saves = [b for p, b in posts if p == "/api/dashboards/db" and b]
    assert len(saves) == 2 * len(specs)
    assert all(b["overwrite"] is True and b["folderUid"] in ("gpi-duckdb", "gpi-snowflake") for b in saves)
    assert all(auth == "Bearer glsa_test" for *_, auth in RecordingGrafana.calls)
    upload(api, [DUCKDB])  # idempotent: the folder exists now and is not created again
    folder_posts = [c for c in RecordingGrafana.calls if c[0] == "POST" and c[1] == "/api/folders"]
    assert len(folder_posts) == 2


def test_upload_needs_url_and_token() -> None:
    with pytest.raises(ValueError, match="set GRAFANA_URL and GRAFANA_TOKEN"):
        api_from_env({})
    with pytest.raises(ValueError, match="set GRAFANA_TOKEN"):
        api_from_env({"GRAFANA_URL": "http://grafana:3000"})
