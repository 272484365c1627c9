"""Panels through Grafana's own data layer: `@grafana/data` (pinned in `grafana_js/package-lock.json`) under Node.

Between a datasource's response and a panel, Grafana's frontend applies the panel's transformations
and its field config (defaults, overrides, colours, display names). `grafana_js/apply_panels.cjs`
runs exactly that code on query results, so tests can check what a Grafana server would draw: the x
field a trend panel needs, one series per driver, and the colour every series ends up with.

The npm packages are installed once per lockfile with `npm ci` into
`~/.cache/grandprix-insights/grafana-js/<hash>` (`$GPI_GRAFANA_JS_DIR` overrides the location).
"""

from __future__ import annotations

import datetime as dt
import decimal
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grandprix_dashboards.query import Result

SOURCE_DIR = Path(__file__).resolve().parent.parent / "grafana_js"
FILES = ("package.json", "package-lock.json", "apply_panels.cjs")
DIR_ENV = "GPI_GRAFANA_JS_DIR"


class GrafanaJsError(RuntimeError):
    """Node/npm is missing, `npm ci` failed or the harness crashed."""


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "grandprix-insights" / "grafana-js"


def _run(command: list[str], what: str, timeout: int, cwd: Path | None = None, stdin: str | None = None) -> str:
    """Runs `command`; its standard output, or a GrafanaJsError quoting the end of its standard error."""
    done = subprocess.run(command, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise GrafanaJsError(f"{what} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def install() -> Path:
    """The harness directory with its node_modules, installed by `npm ci` on first use."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise GrafanaJsError(
                f"{tool} is not installed (Debian: apt-get install nodejs npm; " "tools/install-system-deps does it)"
            )
    digest = hashlib.sha256(b"".join((SOURCE_DIR / name).read_bytes() for name in FILES)).hexdigest()[:16]
    target = Path(os.environ.get(DIR_ENV) or _cache_root()) / digest
    target.mkdir(parents=True, exist_ok=True)
    with (target / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one test process installs, the others wait
        if not (target / "node_modules" / ".installed").is_file():
            for name in FILES:
                shutil.copyfile(SOURCE_DIR / name, target / name)
            _run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], f"npm ci in {target}", 900, cwd=target)
            (target / "node_modules" / ".installed").write_text("ok\n")
    return target


def _field_type(values: Sequence[Any]) -> str:
    """The Grafana field type a SQL datasource gives a column (from its first non-null value)."""
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, bool):
        return "boolean"
    if isinstance(sample, int | float | decimal.Decimal):
        return "number"
    if isinstance(sample, dt.datetime | dt.date):
        return "time"
    return "string"


def _json_value(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return int(aware.timestamp() * 1000)
    if isinstance(value, dt.date):
        return int(dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC).timestamp() * 1000)
    return value


def frame(result: Result, ref_id: str = "A") -> dict[str, Any]:
    """A query result as the data frame a SQL datasource returns (columns typed as Grafana types them)."""
    fields = []
    for i, name in enumerate(result.columns):
        values = [row[i] for row in result.rows]
        fields.append({"name": name, "type": _field_type(values), "values": [_json_value(v) for v in values]})
    return {"refId": ref_id, "fields": fields}


def apply_panels(panels: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs each `{key, transformations, fieldConfig, frames}` through @grafana/data; returns the frames."""
    harness = install()
    stdout = _run(
        ["node", str(harness / "apply_panels.cjs")], "apply_panels.cjs", 600, stdin=json.dumps({"panels": list(panels)})
    )
    out: list[dict[str, Any]] = json.loads(stdout)["panels"]
    return out
