"""The Ergast history from a published dump URL: the real dump, zipped as the mirror publishes it, served on
127.0.0.1; and hostile archives and URLs."""

from __future__ import annotations

import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from f1common.ergast import ergast_files
from f1common.layout import MANIFEST_PREFIX
from f1common.settings import Settings
from ingestion.ergast_download import DumpError, check_url, download, expected_files, extract_dump
from ingestion.ergast_landing import dump_version
from ingestion.handler import route
from ingestion.landing import list_keys


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in members.items():
            zf.writestr(name, body)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def dump_dir(f1data_dir: Path) -> Path:
    return f1data_dir / "ergast"


@pytest.fixture(scope="module")
def published(dump_dir: Path) -> bytes:
    """The shared dump as the TracingInsights/RaceData release publishes it: `data/<table>.csv` in a zip, with
    files the backfill does not read beside them."""
    members = {f"data/{name}": (dump_dir / name).read_bytes() for name in sorted(expected_files())}
    members["data/README.md"] = b"Ergast tables\n"
    members["lap_times.csv"] = b"raceId,driverId,lap\n"  # not an Ergast dataset of this platform: ignored
    return zipped(members)


@pytest.fixture
def served() -> Iterator[dict[str, Any]]:
    """An HTTP server on 127.0.0.1 serving `routes[path] = (status, body[, location])`; counts requests."""
    state: dict[str, Any] = {"routes": {}, "requests": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state["requests"] += 1
            status, body, *location = state["routes"].get(self.path, (404, b"not found"))
            self.send_response(status)
            if location:
                self.send_header("Location", location[0])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["base"] = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_the_published_dump_lands_the_offline_dumps_history_once_whichever_source_comes_first(
    aws: tuple[Any, Any], settings: Settings, dump_dir: Path, published: bytes, served: dict[str, Any]
) -> None:
    s3, dynamodb = aws
    served["routes"]["/releases/latest/data.zip"] = (200, published)
    url = f"{served['base']}/releases/latest/data.zip"
    cloud = settings.model_copy(update={"f1data_dir": None, "ergast_dump_url": url})
    assert cloud.ergast_dir is None

    landed = route({"kind": "ergast_backfill"}, settings=cloud, s3=s3, dynamodb=dynamodb)

    assert not landed["skipped"] and served["requests"] == 1
    # The same tables, byte for byte, as the offline dump: the same dump identity.
    assert landed["source_version"] == dump_version(ergast_files(dump_dir))
    assert landed["rows"]["ergast_results"] > 26_000 and landed["rows"]["ergast_races"] > 1_100
    assert len(list_keys(s3, settings.bucket, MANIFEST_PREFIX)) == 1
    # Again from the URL (the daily backfill, dump unchanged), and from the offline dump: nothing new lands.
    again = route({"kind": "ergast_backfill"}, settings=cloud, s3=s3, dynamodb=dynamodb)
    offline = route({"kind": "ergast_backfill"}, settings=settings, s3=s3, dynamodb=dynamodb)
    assert again["skipped"] and offline["skipped"]
    assert again["existing_run_id"] == offline["existing_run_id"] == landed["run_id"]
    assert len(list_keys(s3, settings.bucket, MANIFEST_PREFIX)) == 1


def test_a_new_round_in_the_published_dump_lands_as_a_new_version(
    aws: tuple[Any, Any], settings: Settings, dump_dir: Path, served: dict[str, Any]
) -> None:
    s3, dynamodb = aws
    url = f"{served['base']}/data.zip"
    cloud = settings.model_copy(update={"f1data_dir": None, "ergast_dump_url": url})
    tables = {name: (dump_dir / name).read_bytes() for name in sorted(expected_files())}
    races = tables["races.csv"].decode().splitlines()
    before = {**tables, "races.csv": ("\n".join(races[:-1]) + "\n").encode()}  # the dump one round earlier
    served["routes"]["/data.zip"] = (200, zipped(before))
    first = route({"kind": "ergast_backfill"}, settings=cloud, s3=s3, dynamodb=dynamodb)
    served["routes"]["/data.zip"] = (200, zipped(tables))
    second = route({"kind": "ergast_backfill"}, settings=cloud, s3=s3, dynamodb=dynamodb)

    assert not first["skipped"] and not second["skipped"] and first["run_id"] != second["run_id"]
    assert second["rows"]["ergast_races"] == first["rows"]["ergast_races"] + 1
    assert len(list_keys(s3, settings.bucket, MANIFEST_PREFIX)) == 2


def test_a_failed_download_lands_nothing_and_says_why(
    aws: tuple[Any, Any], settings: Settings, served: dict[str, Any]
) -> None:
    s3, dynamodb = aws
    cloud = settings.model_copy(update={"f1data_dir": None, "ergast_dump_url": f"{served['base']}/gone.zip"})
    with pytest.raises(DumpError, match="could not be fetched: 'HTTP Error 404"):
        route({"kind": "ergast_backfill"}, settings=cloud, s3=s3, dynamodb=dynamodb)
    served["routes"]["/gone.zip"] = (200, b"<html>a login page</html>")
    with pytest.raises(DumpError, match="not a zip archive"):
        route({"kind": "ergast_backfill"}, settings=cloud, s3=s3, dynamodb=dynamodb)
    assert list_keys(s3, settings.bucket) == []


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "http://example.com/data.zip", "ftp://127.0.0.1/data.zip", "https:///data.zip", "data.zip"],
)
def test_only_https_or_loopback_http_is_fetched(url: str) -> None:
    with pytest.raises(DumpError, match="only https"):
        check_url(url)


def test_https_and_loopback_urls_are_allowed() -> None:
    for url in ("https://github.com/TracingInsights/RaceData/releases/latest/download/data.zip",
                "http://127.0.0.1:8080/data.zip", "http://localhost/x.zip"):  # fmt: skip
        assert check_url(url) == url


def test_a_download_past_the_limit_is_refused(tmp_path: Path) -> None:
    def opener(url: str, timeout: float) -> io.BytesIO:
        return io.BytesIO(b"x" * 5000)

    with pytest.raises(DumpError, match="larger than 4,096 bytes"):
        download("https://example.com/d.zip", tmp_path / "d.zip", max_bytes=4096, opener=opener)
    assert download("https://example.com/d.zip", tmp_path / "d.zip", max_bytes=5000, opener=opener) == 5000


def test_member_paths_never_become_paths_on_disk(tmp_path: Path, dump_dir: Path) -> None:
    tables = {name: (dump_dir / name).read_bytes() for name in sorted(expected_files())}
    hostile = {f"../../{name}": body for name, body in tables.items()}  # zip-slip
    hostile |= {f"a/b/{name}": body for name, body in tables.items()}  # deeper than one folder
    archive = tmp_path / "hostile.zip"
    archive.write_bytes(zipped(hostile))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DumpError, match="lacks"):
        extract_dump(archive, out)
    assert list(out.iterdir()) == [] and not (tmp_path.parent / "results.csv").exists()


def test_a_table_listed_twice_or_too_large_is_refused(tmp_path: Path, dump_dir: Path) -> None:
    tables = {name: (dump_dir / name).read_bytes() for name in sorted(expected_files())}
    twice = tmp_path / "twice.zip"
    twice.write_bytes(zipped({**tables, "data/results.csv": b"raceId\n"}))
    with pytest.raises(DumpError, match="results.csv twice"):
        extract_dump(twice, tmp_path)
    whole = tmp_path / "whole.zip"
    whole.write_bytes(zipped(tables))
    (tmp_path / "out").mkdir()
    with pytest.raises(DumpError, match="circuits.csv is 10,104 bytes, over 1,000 bytes"):
        extract_dump(whole, tmp_path / "out", max_member_bytes=1000)


def test_every_redirect_hop_is_checked(tmp_path: Path, served: dict[str, Any], published: bytes) -> None:
    base, routes = served["base"], served["routes"]
    routes["/data.zip"] = (200, published)
    routes["/latest"] = (302, b"", "/data.zip")  # as a release download redirects to its CDN
    assert download(f"{base}/latest", tmp_path / "d.zip") == len(published)
    routes["/to-metadata"] = (302, b"", "http://169.254.169.254/latest/meta-data/")
    with pytest.raises(DumpError, match="only https"):
        download(f"{base}/to-metadata", tmp_path / "d.zip")
    routes["/to-file"] = (301, b"", "file:///etc/passwd")
    with pytest.raises(DumpError, match="Redirection to url 'file:///etc/passwd' is not allowed"):  # urllib's own
        download(f"{base}/to-file", tmp_path / "d.zip")
    routes["/loop"] = (302, b"", "/loop")
    with pytest.raises(DumpError, match="could not be fetched"):
        download(f"{base}/loop", tmp_path / "d.zip")
