"""What a build after a load must run: the models and tests downstream of what changed, or nothing.

The staging tables are append-only, so their row counts say whether they changed; a new manifest can
also make a run complete whose files arrived earlier (Snowpipe loads files as they come). The datasets
that changed since the last successful build are therefore those whose staging table grew, plus those
listed in manifests not seen before. The build selects

- the landing models (which runs are complete and current), the session input versions and the tables that
  read them (the sessions dimension), and
- `<staging model>+` for each changed dataset: its staging model and everything downstream,

so a new FastF1 session does not rebuild or re-test the Ergast staging, and a build with nothing new
does not start dbt at all. The incremental models then recompute only the sessions whose inputs changed
(macros/incremental.sql). The state of the last successful build is a small JSON file.

The tests after a load check the session-grained models (the FastF1 session staging tables, the facts and
marts: macros/test_scope.sql) on the rows of the sessions whose runs changed since the last successful build
(`scope_of_tests`): those rows are all that can differ from what that build's tests passed. When the change is not
confined to sessions (the Ergast history, a schedule, a quarantined file) or cannot be attributed to runs, the
tests check every row, as the full build's do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from dbt_runner.runner import PROJECT_DIR, TEST_SCOPE_ENV, DbtRun, run_dbt
from f1common.datasets import DATASETS, SESSION_DATASETS, Dataset, dataset_spec
from f1common.sessions import CANONICAL_KEY_PATTERN, SessionId, SessionType
from f1common.warehouse import LOAD_MANIFESTS, LOAD_QUARANTINE, STAGING_SCHEMA

QUARANTINED = "(quarantined)"  # key of the quarantined files' datasets in read_state's listing

STATE_FILE = "staging-state.json"
# Always part of a build after a load: which runs are complete and current, and the session versions.
LANDING_MODELS = (
    "stg_landing__manifest_files",
    "stg_landing__loaded_files",
    "stg_landing__runs",
    "stg_landing__current_files",
    "int_sessions__input_versions",
)
# The tables that read the session versions directly (dim_sessions: every session with data). A new run can add a
# session to them whatever dataset changed (a sprint qualifying whose season's schedule has not landed is in no
# other input of dim_sessions); without them the facts' relationship tests to dim_sessions fail.
SESSION_TABLES = "int_sessions__input_versions+1,config.materialized:table"


@dataclass(frozen=True)
class StagingState:
    """Row counts of the staging tables and the run ids of the manifests in the warehouse; `run_rows`, the rows
    each run has in the session datasets' tables (None: not known, a state written before they were kept), and
    `sessions`, the session key of each session run's manifest (read from the warehouse, not stored)."""

    rows: Mapping[str, int]
    runs: frozenset[str] = field(default_factory=frozenset)
    run_rows: Mapping[str, int] | None = None
    sessions: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        data: dict[str, Any] = {"rows": dict(sorted(self.rows.items())), "runs": sorted(self.runs)}
        if self.run_rows is not None:
            data["run_rows"] = dict(sorted(self.run_rows.items()))
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> StagingState:
        data = json.loads(text)
        run_rows = data.get("run_rows")
        return cls(
            rows={str(k): int(v) for k, v in data["rows"].items()},
            runs=frozenset(map(str, data["runs"])),
            run_rows=None if run_rows is None else {str(k): int(v) for k, v in run_rows.items()},
        )


def read_state(warehouse: Path) -> tuple[StagingState, dict[str, list[str]]]:
    """The DuckDB warehouse's staging state and the datasets listed by each manifest (read-only, no dbt)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return read_state_from(con)


def read_state_from(con: Any) -> tuple[StagingState, dict[str, list[str]]]:
    """The staging state through a DB-API connection or cursor whose `execute` returns the cursor (DuckDB,
    Snowflake): fixed identifiers from the contract only, no value from data."""

    def rows(sql: str) -> list[Any]:
        return list(con.execute(sql).fetchall())

    counts = {}
    for spec in DATASETS.values():
        table = spec.staging_table.lower()
        [(count,)] = rows(f"select count(*) from {STAGING_SCHEMA}.{table}")
        counts[table] = int(count)
    run_rows: dict[str, int] = {}
    for dataset in SESSION_DATASETS:
        table = dataset_spec(dataset).staging_table.lower()
        for run_id, count in rows(f"select _run_id, count(*) from {STAGING_SCHEMA}.{table} group by _run_id"):
            run_rows[str(run_id)] = run_rows.get(str(run_id), 0) + int(count)
    [(quarantined,)] = rows(f"select count(*) from {STAGING_SCHEMA}.{LOAD_QUARANTINE}")
    counts[LOAD_QUARANTINE] = int(quarantined)
    listed: dict[str, list[str]] = {}
    sessions: dict[str, str] = {}
    manifests = f"select run_id, files, season, round, session from {STAGING_SCHEMA}.{LOAD_MANIFESTS}"
    for run_id, files, season, round_, session in rows(manifests):
        listed[str(run_id)] = sorted({str(f["dataset"]) for f in json.loads(files)})
        if (key := _session_key(season, round_, session)) is not None:
            sessions[str(run_id)] = key
    if counts[LOAD_QUARANTINE]:  # a refused file settles its run: the datasets of those runs may change
        for (dataset,) in rows(
            f"select distinct dataset from {STAGING_SCHEMA}.{LOAD_QUARANTINE} " "where dataset is not null"
        ):
            listed.setdefault(QUARANTINED, []).append(str(dataset))
    runs = frozenset(k for k in listed if k != QUARANTINED)
    return StagingState(rows=counts, runs=runs, run_rows=run_rows, sessions=sessions), listed


def _session_key(season: Any, round_: Any, session: Any) -> str | None:
    """A session manifest's canonical key; None for a manifest of no session or of one outside the contract (a
    benchmark's synthetic season): a change to its run then checks every row."""
    if season is None or round_ is None or session is None:
        return None
    try:
        # the code as the manifest stores it (dbt keys the rows by it): an alias or another case is not normalised
        return SessionId(season=int(season), round=int(round_), session=SessionType(str(session))).key
    except ValueError:
        return None


StateReader = Callable[[], tuple[StagingState, dict[str, list[str]]]]


def changed_datasets(before: StagingState | None, now: StagingState, listed: Mapping[str, list[str]]) -> list[Dataset]:
    """The datasets whose current runs may differ from those of the `before` build (all without one)."""
    if before is None:
        return list(DATASETS)
    names = {
        spec.name
        for spec in DATASETS.values()
        if now.rows.get(spec.staging_table.lower(), 0) != before.rows.get(spec.staging_table.lower(), 0)
    }
    for run_id in now.runs - before.runs:
        names.update(listed.get(run_id, []))
    if now.rows.get(LOAD_QUARANTINE, 0) != before.rows.get(LOAD_QUARANTINE, 0):
        names.update(listed.get(QUARANTINED, []))
    # A session's new current run replaces the rows of every session dataset of it, those its manifest does not list
    # (a dataset FastF1 did not give this time) and those whose files landed before the run became complete included.
    if names & {d.value for d in SESSION_DATASETS}:
        names.update(d.value for d in SESSION_DATASETS)
    return [d for d in DATASETS if d.value in names]


def scope_of_tests(before: StagingState | None, now: StagingState, datasets: list[Dataset]) -> tuple[str, ...] | None:
    """The sessions whose rows the tests after this build must check (None: every row, as after a full build).

    The rows of a session-grained model (macros/test_scope.sql) are a function of their session's runs (the
    current one is the latest complete run; the Ergast history and the season's schedule are inputs too, and
    change no session's runs: then every row is checked). So since the `before` build, whose tests passed, only
    the sessions of the runs that are new or whose staged rows changed can hold new rows; a changed run without
    a session manifest (files landed before their manifest) is not complete, so no model reads it yet."""
    if before is None or before.run_rows is None or now.run_rows is None:
        return None
    if not set(datasets) <= set(SESSION_DATASETS):
        return None
    if now.rows.get(LOAD_QUARANTINE, 0) != before.rows.get(LOAD_QUARANTINE, 0):
        return None  # a refused file settles its run: a run can become complete without a row more
    changed = (now.runs - before.runs) | {r for r, n in now.run_rows.items() if before.run_rows.get(r) != n}
    sessions = set()
    for run_id in changed:
        if run_id in now.sessions:
            sessions.add(now.sessions[run_id])
        elif run_id in now.runs:  # a manifest of no session (a schedule, the history)
            return None
    if not all(re.fullmatch(CANONICAL_KEY_PATTERN, key) for key in sessions):  # as macros/test_scope.sql checks
        return None
    return tuple(sorted(sessions))


def staging_models(project_dir: Path = PROJECT_DIR) -> dict[str, str]:
    """Staging table -> the staging model that reads it (`current_run_rows('<table>'...)`, one each)."""
    found = {}
    for path in (project_dir / "models" / "staging").rglob("stg_*.sql"):
        for table in re.findall(r"current_run_rows\('(\w+)'", path.read_text()):
            found[table] = path.stem
    return found


def selection(datasets: list[Dataset], project_dir: Path = PROJECT_DIR) -> list[str]:
    """dbt `--select` arguments for a build after `datasets` changed (empty: nothing to build).

    From each changed dataset's staging model, not from its source: every staging model also depends
    on the landing models, which read every source, so `source:...+` would select the whole project.
    """
    if not datasets:
        return []
    models = staging_models(project_dir)
    downstream = [f"{models[dataset_spec(d).staging_table.lower()]}+" for d in datasets]
    return [*LANDING_MODELS, SESSION_TABLES, *downstream]


@dataclass(frozen=True)
class Plan:
    """What the next build runs: `select` is empty when nothing changed (then dbt is not started)."""

    datasets: list[Dataset]
    select: list[str]
    state: StagingState
    full: bool
    test_sessions: tuple[str, ...] | None = None  # the tests' scope (`scope_of_tests`); None: every row

    @property
    def nothing_new(self) -> bool:
        return not self.select


def plan_build(
    warehouse: Path | None,
    state_file: Path,
    *,
    full: bool = False,
    project_dir: Path = PROJECT_DIR,
    reader: StateReader | None = None,
) -> Plan:
    """The build after a load: everything when there is no state of a previous build (or `full`).

    The staging state is read from the DuckDB file `warehouse`, or by `reader` (another warehouse)."""
    if reader is None:
        if warehouse is None:
            raise ValueError("plan_build needs the DuckDB warehouse or a reader")
        now, listed = read_state(warehouse)
    else:
        now, listed = reader()
    before = None if full or not state_file.is_file() else StagingState.from_json(state_file.read_text())
    datasets = changed_datasets(before, now, listed)
    select = selection(datasets, project_dir) if before is not None else ["fqn:*"]
    scope = scope_of_tests(before, now, datasets)
    return Plan(datasets=datasets, select=select, state=now, full=before is None, test_sessions=scope)


def record_build(plan: Plan, state_file: Path) -> None:
    """Remembers the staging state a successful build saw (call after the build succeeded)."""
    state_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = state_file.with_suffix(".tmp")
    tmp.write_text(plan.state.to_json())
    tmp.replace(state_file)


# The publishing run writes no manifest.json / run_results.json (2 MB of JSON serialised before the run returns):
# the tests' run right after it writes both, and the results are in memory (`DbtRun.nodes`).
PUBLISH_FLAGS = ("--no-write-json",)
# What publishing new data does not run: the views (stored queries whose SQL did not change - a changed project gets
# a full build - so they already show the new rows) and the tests, which run after it.
PUBLISH_EXCLUDE = (
    "--exclude",
    "config.materialized:view",
    "--exclude-resource-type",
    "test",
    "--exclude-resource-type",
    "unit_test",
)


def publish_selection(select: list[str]) -> list[str]:
    """The selection arguments of the tables, incremental models and snapshots of `select`: what must be rebuilt
    to publish new data.

    One exclusion of the views, not an intersection per selector and materialization: dbt evaluates every
    criterion over the whole manifest, and three intersections per selector cost it seconds per build.
    """
    return ["--select", *select, *PUBLISH_EXCLUDE]


@dataclass(frozen=True)
class BuildResult:
    """`run` published the data (the whole build, or its tables and incrementals), `tests` ran after it."""

    plan: Plan
    run: DbtRun | None  # None: nothing new, dbt was not started
    tests: DbtRun | None = None

    @property
    def seconds(self) -> float:
        return sum(r.elapsed_s for r in (self.run, self.tests) if r is not None)

    @property
    def published_s(self) -> float:
        """Seconds until every model downstream of the change held the new data."""
        return self.run.elapsed_s if self.run else 0.0


def build_after_load(
    warehouse: Path | None,
    artifacts_dir: Path,
    *,
    full_refresh: bool = False,
    project_dir: Path | None = None,
    quiet: bool = True,
    raise_on_failure: bool = True,
    reader: StateReader | None = None,
    target: str | None = None,
    env: Mapping[str, str] | None = None,
) -> BuildResult:
    """The build after a load: what changed since the last successful build (state in `artifacts_dir`).

    Without a record of an earlier build (or with `full_refresh`, after a change to the project's SQL)
    it is one `dbt build` of everything. Otherwise it publishes first (`dbt build` of the changed tables,
    incremental models and snapshot without tests, so the marts are fresh as soon as possible; in a warm process
    on the manifest parsed once, `dbt_runner.runner`), then runs the tests
    and unit tests of everything downstream of the change (the session-grained models' on the changed
    sessions' rows, `scope_of_tests`). Raises :class:`dbt_runner.runner.DbtRunError`
    when dbt or a test fails; the state is then not advanced, so the next build runs the same selection
    (with `raise_on_failure=False`, for benchmarks, failures are in the results and the state advances).
    Another warehouse than the DuckDB file (Snowflake): its `reader`, the profile's `target` and `env`.
    """
    state_file = artifacts_dir / STATE_FILE
    project = project_dir or PROJECT_DIR
    plan = plan_build(warehouse, state_file, full=full_refresh, project_dir=project, reader=reader)
    if plan.nothing_new:
        return BuildResult(plan, None)
    flags = ["--quiet"] if quiet else []

    def dbt(*args: str, scope: tuple[str, ...] | None = None) -> DbtRun:
        values = dict(env or {})
        if scope is not None:
            values[TEST_SCOPE_ENV] = ",".join(scope)
        return run_dbt(
            [*args, *flags],
            project_dir=project,
            warehouse_path=warehouse,
            artifacts_dir=artifacts_dir,
            raise_on_failure=raise_on_failure,
            target=target,
            env=values,
        )

    if plan.full:
        refresh = ["--full-refresh"] if full_refresh else []
        result = BuildResult(plan, dbt("build", "--select", *plan.select, *refresh))
    else:
        published = dbt("build", *publish_selection(plan.select), *PUBLISH_FLAGS)
        result = BuildResult(plan, published, dbt("test", "--select", *plan.select, scope=plan.test_sessions))
    record_build(plan, state_file)
    return result
