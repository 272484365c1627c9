"""Runs the dbt project programmatically (dbt's `dbtRunner`): the transformer, tests and the local demo.

A warm process (the transformer Lambda between batches, the embedded stack) parses the project once: the
manifest of a parse is kept and handed to the next invocations (`dbtRunner(manifest=...)`) while the key it
was parsed under holds - the project's files, the profiles file, dbt's version and the environment the
profile and project can read (`GPI_*`, `SNOWFLAKE_*`, `DBT_*`). Any change to one of them parses again.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from f1common.settings import patched_environ

PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt"
WAREHOUSE_ENV = "GPI_WAREHOUSE_PATH"
TARGET_ENV = "GPI_DBT_TARGET"
# The sessions the tests of a build after a load check (dbt_runner.selection.scope_of_tests; comma-separated session
# keys, unset: every row). Read by macros/test_scope.sql when a test runs, never while parsing: not part of the
# key of a kept manifest, so the tests run on the parse the publishing run kept.
TEST_SCOPE_ENV = "GPI_DBT_TEST_SESSIONS"


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
    parsed: bool = True  # False: the invocation reused the manifest a warm process kept (no parsing)

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
    reuse_manifest: bool = True,
) -> DbtRun:
    """Runs `dbt <args>` on the project and returns its per-node results.

    `warehouse_path` (DuckDB file of the `local` target) and `target` are passed to the profile
    through `GPI_WAREHOUSE_PATH` / `GPI_DBT_TARGET`; `env` adds other variables (e.g. Snowflake
    settings) for the duration of the call. Artifacts and logs go to `artifacts_dir` (`target/`,
    `logs/`) when given, else to the project's own. The manifest a warm process kept is reused while its key
    holds (`reuse_manifest=False`: dbt parses, as a cold process does). Raises :class:`DbtRunError` naming the
    failing nodes.
    """
    if not (project_dir / "dbt_project.yml").is_file():
        raise FileNotFoundError(f"no dbt_project.yml in {project_dir}")
    values: dict[str, str] = dict(env or {})
    if warehouse_path is not None:
        values[WAREHOUSE_ENV] = str(Path(warehouse_path).resolve())
    if target is not None:
        values[TARGET_ENV] = target
    profiles = profiles_dir or project_dir
    paths = ["--project-dir", str(project_dir), "--profiles-dir", str(profiles)]
    if artifacts_dir is not None:
        paths += ["--target-path", str(artifacts_dir / "target"), "--log-path", str(artifacts_dir / "logs")]
    cli_args = [*args, *paths]
    started = time.perf_counter()
    with patched_environ(values):
        try:
            manifest, parsed = _manifest_for(args, project_dir, profiles, paths) if reuse_manifest else (None, True)
            result = _invoke(cli_args, manifest)
        finally:
            _release_duckdb()
    elapsed = time.perf_counter() - started
    nodes = [_node_result(r) for r in _results(result.result)]
    invocation_id = _invocation_id(result.result)
    run = DbtRun(tuple(args), bool(result.success), elapsed, invocation_id, nodes, parsed=parsed)
    if raise_on_failure and not run.success:
        failing = [f"{n.unique_id} [{n.status}]: {n.message}" for n in nodes if n.status in _FAILED]
        detail = "; ".join(failing) if failing else repr(result.exception)
        raise DbtRunError(f"dbt {' '.join(args)} failed: {detail}")
    return run


def _invoke(cli_args: list[str], manifest: Any = None) -> Any:
    from dbt.cli.main import dbtRunner

    return dbtRunner(manifest=manifest).invoke(cli_args)


# The commands that run on a manifest (the others - parse, debug, deps, clean - get none).
_MANIFEST_COMMANDS = {"build", "run", "test", "seed", "snapshot", "compile", "show", "list", "ls", "source"}
# The environment a profile or project can read through `env_var()`: part of the key of a kept manifest.
_ENV_PREFIXES = ("GPI_", "SNOWFLAKE_", "DBT_")
# The options of a command that change what parsing makes (a model's config can read `var()`, `target`).
_PARSE_OPTIONS = ("--vars", "--target", "-t", "--profile")


def parse_options(args: Sequence[str]) -> list[str]:
    """The options of `args` that parsing depends on, with their values (given as `--opt value` or `--opt=value`)."""
    found: list[str] = []
    for i, arg in enumerate(args):
        if arg in _PARSE_OPTIONS and i + 1 < len(args):
            found += [arg, args[i + 1]]
        elif arg.startswith(tuple(f"{option}=" for option in _PARSE_OPTIONS)):
            found.append(arg)
    return found


@dataclass(frozen=True)
class _Parsed:
    key: str
    manifest: Any


_parsed: dict[Path, _Parsed] = {}  # project dir -> its last manifest (one per project: the warm process's)
_parsed_lock = threading.Lock()


def parse_key(project_dir: Path, profiles_dir: Path, environ: Mapping[str, str], options: Sequence[str] = ()) -> str:
    """What a parsed manifest depends on: the project's files, the profiles file, dbt's version, the environment
    and the command's parse options (`parse_options`)."""
    from dbt.version import __version__ as dbt_version

    digest = hashlib.sha256(project_fingerprint(project_dir).encode())
    digest.update(b"\0options\0" + "\0".join(options).encode())
    profile = profiles_dir / "profiles.yml"
    digest.update(b"\0profiles\0" + (profile.read_bytes() if profile.is_file() else b""))
    digest.update(b"\0dbt\0" + dbt_version.encode())
    for name in sorted(k for k in environ if k.startswith(_ENV_PREFIXES) and k != TEST_SCOPE_ENV):
        digest.update(f"\0{name}={environ[name]}".encode())
    return digest.hexdigest()


def _manifest_for(args: Sequence[str], project_dir: Path, profiles_dir: Path, paths: list[str]) -> tuple[Any, bool]:
    """The manifest for `args` (None: the command takes none, dbt parses) and whether this call parsed it.

    A kept manifest is reused when its key still holds; otherwise `dbt parse` (partial parsing, with the
    same paths) makes one, kept for the next call. A failed parse keeps nothing: the command then parses
    itself and reports the error."""
    if not args or args[0] not in _MANIFEST_COMMANDS:
        return None, True
    options = parse_options(args)
    key = parse_key(project_dir, profiles_dir, os.environ, options)
    with _parsed_lock:
        kept = _parsed.get(project_dir.resolve())
        if kept is not None and kept.key == key:
            return kept.manifest, False
        _parsed.pop(project_dir.resolve(), None)
    parse = _invoke(["parse", "--quiet", *options, *paths])
    if not parse.success or parse.result is None:
        return None, True
    with _parsed_lock:
        _parsed[project_dir.resolve()] = _Parsed(key, parse.result)
    return parse.result, True


def forget_parsed() -> None:
    """Drops the kept manifests (the next invocation of each project parses)."""
    with _parsed_lock:
        _parsed.clear()


def project_fingerprint(project: Path) -> str:
    """sha256 over the dbt project's own files (config, models, macros, snapshots, tests, seeds)."""
    digest = hashlib.sha256()
    files = [
        project / "dbt_project.yml",
        *sorted(
            p
            for d in ("models", "macros", "snapshots", "tests", "seeds")
            for p in (project / d).rglob("*")
            if p.is_file()
        ),
    ]
    for path in files:
        digest.update(str(path.relative_to(project)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


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
