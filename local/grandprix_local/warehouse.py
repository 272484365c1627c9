"""A local warehouse built from real data through the whole pipeline, for tests and notebooks.

`build_warehouse(path)` runs the embedded stack (moto server, scheduler replay, ingestion, loader,
Ergast backfill, calendar export) and `dbt build` into a DuckDB file. Test processes that need the
same warehouse share one build: it is cached under the user cache directory, keyed by the sessions
and by the content of every file of the code that builds it, and guarded by a file lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from f1common.sessions import SessionId
from f1common.settings import Settings

# A small but complete sample of the shared FastF1 cache: two conventional race weekends (2023
# Bahrain, whose FastF1 results carry points, and 2023 Australia, whose results lack them), the
# 2023 Azerbaijan sprint weekend (Sprint Shootout format) and 2025 Australia and China (Sprint
# Qualifying format), with qualifying sessions.
TEST_SESSIONS: tuple[str, ...] = (
    "2023-01-R",
    "2023-03-R",
    "2023-04-Q",
    "2023-04-SS",
    "2023-04-S",
    "2025-01-Q",
    "2025-01-R",
    "2025-02-SQ",
    "2025-02-S",
    "2025-02-R",
)

CACHE_ENV = "GPI_WAREHOUSE_CACHE"


def build_warehouse(
    path: Path,
    *,
    settings: Settings | None = None,
    sessions: Sequence[str] = TEST_SESSIONS,
    dbt: bool = True,
    cache: bool = True,
) -> Path:
    """Builds (or copies from the shared cache) a warehouse with `sessions` + the Ergast history."""
    settings = settings or Settings()
    keys = sorted(SessionId.parse(k).key for k in sessions)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cache:
        return _build(path, keys, settings, dbt)
    cache_dir = Path(os.environ.get(CACHE_ENV) or _user_cache() / "warehouses")
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = _cache_key(keys, settings, dbt)
    cached = cache_dir / f"{key}.duckdb"
    with (cache_dir / f"{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one process builds, the others wait and copy
        if not cached.exists():
            staging = Path(tempfile.mkdtemp(prefix="warehouse-", dir=cache_dir))
            try:
                _build(staging / "warehouse.duckdb", keys, settings, dbt)
                os.replace(staging / "warehouse.duckdb", cached)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    shutil.copyfile(cached, path)
    return path


def _build(path: Path, keys: Sequence[str], settings: Settings, dbt: bool) -> Path:
    from grandprix_local.run import RunOptions, run_local

    state = Path(tempfile.mkdtemp(prefix="gpi-state-"))
    try:
        if settings.f1data_dir is None:
            raise FileNotFoundError("the shared F1 data is needed to build a test warehouse (set GPI_F1DATA_DIR)")
        options = RunOptions(
            state_dir=state,
            sessions=[SessionId.parse(k) for k in keys],
            data_dir=settings.f1data_dir,
            dbt=dbt,
            dashboards=False,
        )
        summary = run_local(options, progress=lambda line: None)
        if not summary.ok or summary.replay.errors:
            raise RuntimeError(f"the local pipeline failed: {summary.lines()}")
        shutil.copyfile(options.warehouse, path)
        return path
    finally:
        shutil.rmtree(state, ignore_errors=True)


def _user_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "grandprix-insights"


def _cache_key(keys: Sequence[str], settings: Settings, dbt: bool) -> str:
    """Sessions + data location + the content of every source file that shapes the warehouse."""
    from dbt_runner.runner import PROJECT_DIR

    import f1common
    import grandprix_dashboards
    import grandprix_local
    import ingestion
    import loader
    import scheduler

    digest = hashlib.sha256(repr((keys, str(settings.f1data_dir), dbt)).encode())
    modules = (f1common, ingestion, loader, scheduler, grandprix_local, grandprix_dashboards)
    roots = [Path(str(m.__file__)).parent for m in modules]
    for file in sorted(_files([*roots, PROJECT_DIR])):
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:20]


def _files(roots: Iterable[Path]) -> Iterable[Path]:
    for root in roots:
        for file in root.rglob("*"):
            if file.is_file() and file.suffix in {".py", ".sql", ".yml", ".yaml"} and "target" not in file.parts:
                yield file
