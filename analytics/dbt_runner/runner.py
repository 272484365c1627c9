"""Runs the dbt project programmatically (dbt's `dbtRunner`), for tests and the local demo."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from f1common.settings import patched_environ

PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt"
WAREHOUSE_ENV = "GPI_WAREHOUSE_PATH"
TARGET_ENV = "GPI_DBT_TARGET"


class DbtRunError(RuntimeError):
    """dbt failed; the message names the command and every failing node with its message."""


@dataclass(frozen=True)
class NodeResult:
    unique_id: str
    status: str
    message: str | None
    rows_affected: int | None
    execution_time_s: float


@dataclass(frozen=True)
class DbtRun:
    args: tuple[str, ...]
    success: bool
    elapsed_s: float
    invocation_id: str | None
    nodes: list[NodeResult] = field(default_factory=list)

    def node(self, unique_id_suffix: str) -> NodeResult:
        """The result of the node whose unique id ends with the suffix (e.g. `model.grandprix_insights.fct_laps`)."""
        found = [n for n in self.nodes if n.unique_id.endswith(unique_id_suffix)]
        if len(found) != 1:
            raise KeyError(f"{len(found)} nodes match {unique_id_suffix!r} in dbt {' '.join(self.args)}")
        return found[0]


def run_dbt(
    args: Sequence[str],
    *,
    project_dir: Path = PROJECT_DIR,
    profiles_dir: Path | None = None,
    warehouse_path: Path | None = None,
    target: str | None = None,
    env: Mapping[str, str] | None = None,
    artifacts_dir: Path | None = None,
    raise_on_failure: bool = True,
) -> DbtRun:
    """Runs `dbt <args>` on the project and returns its per-node results.

    `warehouse_path` (DuckDB file of the `local` target) and `target` are passed to the profile
    through `GPI_WAREHOUSE_PATH` / `GPI_DBT_TARGET`; `env` adds other variables (e.g. Snowflake
    settings) for the duration of the call. Artifacts and logs go to `artifacts_dir` (`target/`,
    `logs/`) when given, else to the project's own. Raises :class:`DbtRunError` naming the failing nodes.
    """
    from dbt.cli.main import dbtRunner

    if not (project_dir / "dbt_project.yml").is_file():
        raise FileNotFoundError(f"no dbt_project.yml in {project_dir}")
    values: dict[str, str] = dict(env or {})
    if warehouse_path is not None:
        values[WAREHOUSE_ENV] = str(Path(warehouse_path).resolve())
    if target is not None:
        values[TARGET_ENV] = target
    cli_args = [*args, "--project-dir", str(project_dir), "--profiles-dir", str(profiles_dir or project_dir)]
    if artifacts_dir is not None:
        cli_args += ["--target-path", str(artifacts_dir / "target"), "--log-path", str(artifacts_dir / "logs")]
    started = time.perf_counter()
    with patched_environ(values):
        try:
            result = dbtRunner().invoke(cli_args)
        finally:
            _release_duckdb()
    elapsed = time.perf_counter() - started
    nodes = [_node_result(r) for r in _results(result.result)]
    invocation_id = _invocation_id(result.result)
    run = DbtRun(tuple(args), bool(result.success), elapsed, invocation_id, nodes)
    if raise_on_failure and not run.success:
        failing = [f"{n.unique_id} [{n.status}]: {n.message}" for n in nodes if n.status in _FAILED]
        detail = "; ".join(failing) if failing else repr(result.exception)
        raise DbtRunError(f"dbt {' '.join(args)} failed: {detail}")
    return run


_FAILED = {"error", "fail", "runtime error"}


def _release_duckdb() -> None:
    """Closes the DuckDB database dbt-duckdb keeps open in-process after a run.

    Otherwise the file stays locked with dbt's configuration, and the caller cannot open it (nor can
    another process) until the interpreter exits.
    """
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # dbt-duckdb not installed: nothing to release
        return
    env = DuckDBConnectionManager._ENV
    if env is not None:
        env.close()
        DuckDBConnectionManager._ENV = None


def _results(result: Any) -> list[Any]:
    return list(getattr(result, "results", None) or [])


def _invocation_id(result: Any) -> str | None:
    """The id dbt wrote into the models (`{{ invocation_id }}`) during the call that just finished."""
    args = getattr(result, "args", None)
    if isinstance(args, dict) and isinstance(args.get("invocation_id"), str):
        return args["invocation_id"]
    from dbt_common.invocation import get_invocation_id

    return get_invocation_id()


def _node_result(result: Any) -> NodeResult:
    adapter_response = getattr(result, "adapter_response", None) or {}
    rows = adapter_response.get("rows_affected") if isinstance(adapter_response, dict) else None
    return NodeResult(
        unique_id=result.node.unique_id,
        status=str(getattr(result.status, "value", result.status)),
        message=result.message,
        rows_affected=rows if isinstance(rows, int) else None,
        execution_time_s=float(result.execution_time or 0.0),
    )
