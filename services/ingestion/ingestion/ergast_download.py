"""The Ergast history from the cloud: a published dump (a zip of the Ergast CSV tables) fetched by URL.

The URL comes from the settings (``GPI_ERGAST_DUMP_URL``), never from an event. The default in the AWS
stack is the TracingInsights/RaceData mirror of the Ergast/Jolpica database (CC0, the source of the
shared offline dump), rebuilt within hours of each race: a daily backfill therefore lands new rounds
as a new dump version, and the content hash of :mod:`ingestion.ergast_landing` makes an unchanged dump
land nothing.

What is read from the archive is bounded and checked: only ``https`` (``http`` only to a loopback
host, for tests and the embedded stack) for the URL and every redirect hop, a download size limit, and
from the zip only the CSV files the Ergast datasets name, found by their base name at one directory
level, each within a size limit. A member path never becomes a path on disk (no zip-slip): files are
written under their known names.
"""

from __future__ import annotations

import ipaddress
import shutil
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO, Any
from urllib.parse import urlsplit

from f1common.datasets import ERGAST_DATASETS, dataset_spec
from f1common.errors import bounded

MAX_DOWNLOAD_BYTES = 64 << 20  # the whole dump zip is ~4 MB today (2025)
MAX_MEMBER_BYTES = 64 << 20  # results.csv is the largest, ~1.7 MB unpacked
TIMEOUT_SECONDS = 60.0
MAX_REDIRECTS = 5
CHUNK = 1 << 16

Opener = Callable[[str, float], IO[bytes]]


class DumpError(Exception):
    """The dump cannot be fetched or is not an Ergast dump; the message says why (bounded)."""


def check_url(url: str) -> str:
    """`url` if it may be fetched: https, or http to a loopback address; raises :class:`DumpError`."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return url
    if parts.scheme == "http" and _loopback(host):
        return url
    raise DumpError(f"Ergast dump URL {bounded(url)}: only https (or http to 127.0.0.1) is allowed")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to a URL :func:`check_url` allows, at most :data:`MAX_REDIRECTS` hops (a release
    download redirects once, to its CDN): a redirect cannot take the fetch to plain http or a file."""

    max_redirections = MAX_REDIRECTS

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        check_url(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_CheckedRedirects)


def _urlopen(url: str, timeout: float) -> IO[bytes]:
    request = urllib.request.Request(url, headers={"User-Agent": "grandprix-insights ergast backfill"})
    return _OPENER.open(request, timeout=timeout)  # type: ignore[no-any-return]  # every hop's URL checked


def download(url: str, dest: Path, *, max_bytes: int = MAX_DOWNLOAD_BYTES, opener: Opener = _urlopen) -> int:
    """Streams `url` into `dest` (at most `max_bytes`); returns the bytes written."""
    written = 0
    try:
        with opener(check_url(url), TIMEOUT_SECONDS) as response, dest.open("wb") as out:
            while chunk := response.read(CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise DumpError(f"Ergast dump at {bounded(url)} is larger than {max_bytes:,} bytes")
                out.write(chunk)
    except OSError as exc:  # URLError, HTTPError, timeouts: all OSError
        raise DumpError(f"Ergast dump at {bounded(url)} could not be fetched: {bounded(str(exc))}") from exc
    return written


def expected_files() -> set[str]:
    """The CSV base names of the Ergast datasets (e.g. `results.csv`)."""
    return {dataset_spec(d).source_file or "" for d in ERGAST_DATASETS}


def extract_dump(archive: Path, dest: Path, *, max_member_bytes: int = MAX_MEMBER_BYTES) -> Path:
    """Writes the dump's CSVs from the zip `archive` into `dest` under their known names; returns `dest`.

    The CSVs may sit at the archive's root or in one folder (the mirror's `data/`); other members are
    ignored. Raises :class:`DumpError` for a file that is not a zip, a CSV listed twice, one too large, or
    missing CSVs.
    """
    wanted = expected_files()
    try:
        with zipfile.ZipFile(archive) as zf:
            chosen: dict[str, zipfile.ZipInfo] = {}
            for info in zf.infolist():
                path = PurePosixPath(info.filename)
                if info.is_dir() or path.name not in wanted or len(path.parts) > 2 or ".." in path.parts:
                    continue
                if path.name in chosen:
                    raise DumpError(f"Ergast dump lists {path.name} twice ({bounded(info.filename)})")
                chosen[path.name] = info
            missing = sorted(wanted - set(chosen))
            if missing:
                raise DumpError(f"Ergast dump lacks {missing}")
            for name, info in chosen.items():
                if info.file_size > max_member_bytes:
                    size = f"{info.file_size:,} bytes, over {max_member_bytes:,} bytes"
                    raise DumpError(f"Ergast dump's {name} is {size}")
                with zf.open(info) as src, (dest / name).open("wb") as out:
                    _copy_bounded(src, out, max_member_bytes, name)
    except zipfile.BadZipFile as exc:
        raise DumpError(f"Ergast dump is not a zip archive: {bounded(str(exc))}") from exc
    return dest


def _copy_bounded(src: IO[bytes], out: IO[bytes], limit: int, name: str) -> None:
    copied = 0
    while chunk := src.read(CHUNK):
        copied += len(chunk)
        if copied > limit:  # the header's size can lie: count what is inflated
            raise DumpError(f"Ergast dump's {name} inflates past {limit:,} bytes")
        out.write(chunk)


@contextmanager
def fetched_dump(url: str, *, opener: Opener = _urlopen) -> Iterator[Path]:
    """A temporary directory holding the dump's CSVs fetched from `url`; removed on exit."""
    work = Path(tempfile.mkdtemp(prefix="ergast-dump-"))
    try:
        archive = work / "dump.zip"
        download(url, archive, opener=opener)
        csv_dir = work / "csv"
        csv_dir.mkdir()
        extract_dump(archive, csv_dir)
        archive.unlink()
        yield csv_dir
    finally:
        shutil.rmtree(work, ignore_errors=True)
