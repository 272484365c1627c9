"""Headless Chromium for the preview: screenshots and the rendered DOM of a local page (no network)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise FileNotFoundError("no Chromium found on PATH (Debian: apt-get install chromium)")


def chromium(args: Sequence[str], timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """Runs headless Chromium with a fresh profile and no background network activity."""
    with tempfile.TemporaryDirectory(prefix="gpi-chromium-") as profile:
        command = [
            chromium_binary(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=20000",
            *args,
        ]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def screenshot(html_path: Path, png_path: Path, width: int, height: int) -> Path:
    proc = chromium([f"--screenshot={png_path}", f"--window-size={width},{height}", html_path.resolve().as_uri()])
    if not png_path.is_file():
        raise RuntimeError(
            f"chromium wrote no screenshot for {html_path} (exit {proc.returncode}): " f"{proc.stderr[-2000:]}"
        )
    return png_path


def dump_dom(html_path: Path) -> str:
    proc = chromium(["--dump-dom", html_path.resolve().as_uri()])
    if proc.returncode != 0 or not proc.stdout:
        raise RuntimeError(
            f"chromium --dump-dom failed for {html_path} (exit {proc.returncode}): " f"{proc.stderr[-2000:]}"
        )
    return proc.stdout
