"""FastF1 configuration shared by the services: cache location and offline mode."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from f1common.settings import Settings

log = logging.getLogger(__name__)
_configured: tuple[Path, bool] | None = None


def configure_fastf1(settings: Settings) -> Path:
    """Enables FastF1's cache (a writable copy of the shared one when offline) and returns its path.

    Offline (the shared data exists, or `GPI_FASTF1_OFFLINE=1`): FastF1 serves only cached responses.
    Online: FastF1 fetches as usual and caches into the directory.
    """
    global _configured
    import fastf1

    cache_dir = settings.fastf1_cache_dir or Path(tempfile.gettempdir()) / "gpi-fastf1-cache"
    offline = settings.offline
    if _configured == (cache_dir, offline):
        return cache_dir
    shared = settings.f1data_dir / "fastf1-cache" if settings.f1data_dir else None
    if shared is not None and shared.is_dir() and not (cache_dir / "fastf1_http_cache.sqlite").exists():
        _copy_cache(shared, cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    fastf1.Cache.configure(cache_dir=str(cache_dir), ignore_version=True)
    fastf1.Cache.offline_mode(offline)
    fastf1.set_log_level(settings.fastf1_log_level)
    # FastF1 prints through its own handler; do not repeat its records through the root logger's handlers
    # (dbt, run in the same process by the local stack, installs one at DEBUG level).
    logging.getLogger("fastf1").propagate = False
    _configured = (cache_dir, offline)
    return cache_dir


def _copy_cache(shared: Path, cache_dir: Path) -> None:
    """Copies the read-only shared cache to a writable place; safe when processes race to do it."""
    log.info("copying the shared FastF1 cache to %s", cache_dir)
    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{cache_dir.name}-", dir=cache_dir.parent))
    shutil.copytree(shared, staging, dirs_exist_ok=True)
    for path in [staging, *staging.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    if cache_dir.is_dir() and not any(cache_dir.iterdir()):
        cache_dir.rmdir()
    try:
        os.rename(staging, cache_dir)
    except OSError:  # another process won the race
        shutil.rmtree(staging, ignore_errors=True)
