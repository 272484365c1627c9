"""Pipeline health: load-health findings, freshness per dataset, rows landed per run, quarantined loads,
overdue/FAILED sessions.

Reads the loader's staging tables and bookkeeping (`staging.load_history`, `staging.load_quarantine`,
each staging table's `_load_time`), the hourly load-health check's findings in `staging.load_health` and the
race calendar exported to `staging.race_calendar` (both written by the loader's health check; the tables are the
warehouse contract of :mod:`f1common.warehouse`).
"""

from __future__ import annotations

from f1common.datasets import DATASETS
from f1common.warehouse import (
    FINDING_FILE,
    LOAD_HEALTH,
    LOAD_HISTORY,
    LOAD_QUARANTINE,
    RACE_CALENDAR,
    staging_relation,
)
from grandprix_dashboards.panels import DashboardSpec, Pos, bars, stat, table
from grandprix_dashboards.sql import Dialect

HISTORY = staging_relation(LOAD_HISTORY)
QUARANTINE = staging_relation(LOAD_QUARANTINE)
CALENDAR = staging_relation(RACE_CALENDAR)
HEALTH = staging_relation(LOAD_HEALTH)
STALE_HOURS = 24
# A session is overdue when it ended this long ago and is still not ingested (ingestion waits
# `ingestion_delay_minutes`, 60 by default, then retries for `retry_limit_hours`, 6 by default).
OVERDUE_HOURS = 8


def _latest_loads() -> str:
    parts = [
        f"select '{spec.name}' as dataset, max(_load_time) as last_load, count(*) as row_count "
        f"from {staging_relation(spec.staging_table.lower())}"
        for spec in DATASETS.values()
    ]
    return "\n      union all ".join(parts)


def freshness(d: Dialect) -> str:
    return f"""
    with latest as (
      {_latest_loads()}
    )
    select dataset as "Dataset", last_load as "Last load (UTC)",
           round({d.hours_since('last_load')}, 1) as "Hours since load", row_count as "Rows"
    from latest
    order by last_load nulls first, dataset
    """


def stale_datasets(d: Dialect) -> str:
    return f"""
    with latest as (
      {_latest_loads()}
    )
    select count(*) as "stale"
    from latest
    where last_load is null or last_load < {d.hours_before_now(STALE_HOURS)}
    """


ROWS_PER_RUN = f"""
    with runs as (
      select run_id, min(loaded_at) as first_load
      from {HISTORY}
      group by run_id
      order by first_load desc
      limit 20
    )
    select h.run_id as "run", h.dataset as "dataset", sum(h.rows) as "rows", min(r.first_load) as "first_load"
    from {HISTORY} h
    join runs r on r.run_id = h.run_id
    group by h.run_id, h.dataset
    order by min(r.first_load), h.run_id, h.dataset
"""

LOAD_OUTCOMES = f"""
    with loaded as (
      select dataset, count(*) as files, sum(rows) as row_count, max(loaded_at) as last_loaded
      from {HISTORY}
      group by dataset
    ),
    quarantined as (
      select dataset, count(*) as files, max(quarantined_at) as last_quarantined,
             max_by(error, quarantined_at) as last_error
      from {QUARANTINE}
      group by dataset
    )
    select coalesce(l.dataset, q.dataset) as "Dataset", coalesce(l.files, 0) as "Files loaded",
           coalesce(l.row_count, 0) as "Rows loaded", coalesce(q.files, 0) as "Files quarantined",
           q.last_quarantined as "Last quarantined (UTC)", q.last_error as "Last error"
    from loaded l
    full outer join quarantined q on q.dataset = l.dataset
    order by coalesce(q.files, 0) desc, 1
"""

QUARANTINED_FILES = f"""
    select quarantined_at as "Quarantined (UTC)", dataset as "Dataset", run_id as "Run", file_name as "File",
           error as "Error"
    from {QUARANTINE}
    order by quarantined_at desc
    limit 50
"""

QUARANTINED_COUNT = f'select count(*) as "quarantined" from {QUARANTINE}'


def problem_filter(d: Dialect) -> str:
    """Calendar sessions FAILED, or ended over OVERDUE_HOURS ago and not ingested (the dashboard and the alert)."""
    return (
        f"status = 'FAILED' or (status not in ('INGESTED', 'CANCELLED') "
        f"and end_utc < {d.hours_before_now(OVERDUE_HOURS)})"
    )


def problem_sessions(d: Dialect) -> str:
    return f"""
    select pk as "Session", event_name as "Event", status as "Status", attempt as "Attempts",
           end_utc as "Ended (UTC)", round({d.hours_since('end_utc')}, 1) as "Hours since end"
    from {CALENDAR}
    where {problem_filter(d)}
    order by case when status = 'FAILED' then 0 else 1 end, end_utc desc
    limit 100
    """


def problem_count(d: Dialect) -> str:
    return f'select count(*) as "sessions" from {CALENDAR} where {problem_filter(d)}'


CALENDAR_STATUS = f"""
    select status as "status", count(*) as "sessions"
    from {CALENDAR}
    group by status
    order by 2 desc
"""


# The latest load-health check's findings: every file of the checked runs and every Snowpipe pipe; a finding is open
# while it is not healthy (a file FAILED or MISSING, a pipe not running or reporting an error).
OPEN_FINDINGS = f'select count(*) as "findings" from {HEALTH} where not healthy'

FILES_BY_HEALTH = f"""
    select status as "status", count(*) as "files"
    from {HEALTH}
    where kind = '{FINDING_FILE}'
    group by status
    order by 2 desc
"""


def last_check(d: Dialect) -> str:
    return f'select round({d.hours_since("max(checked_at)")}, 1) as "hours" from {HEALTH}'


def findings(d: Dialect) -> str:
    return f"""
    select kind as "Kind", status as "Status", dataset as "Dataset", run_id as "Run", subject as "File or pipe",
           reason as "Reason", status_since as "Since (UTC)",
           round({d.hours_since('status_since')}, 1) as "Hours in status", pending_files as "Pending files"
    from {HEALTH}
    where not healthy or (kind = '{FINDING_FILE}' and status <> 'LOADED')
    order by case when healthy then 1 else 0 end, status_since, subject
    limit 100
    """


def open_findings_by_subject(d: Dialect) -> str:
    """Each open finding (the alert rule's instances: one per file or pipe) and the hours it has been in its status."""
    return f"""
    select kind as "kind", subject as "subject", coalesce(dataset, '') as "dataset", status as "status",
           coalesce(reason, '') as "reason", round({d.hours_since('coalesce(status_since, checked_at)')}, 1) as "hours"
    from {HEALTH}
    where not healthy
    """


def dashboard() -> DashboardSpec:
    return DashboardSpec(
        uid="gpi-pipeline-health",
        title="Pipeline health",
        description="The hourly load-health check's findings, freshness per dataset, rows landed per ingestion run, "
        "quarantined loads and sessions that are overdue or FAILED in the race calendar.",
        variables=(),
        time_from="now-30d",
        panels=(
            stat(
                f"Datasets stale > {STALE_HOURS} h",
                stale_datasets,
                Pos(0, 0, 6, 4),
                y="stale",
                description="Staging tables with no load in the last day.",
            ),
            stat(
                "Quarantined files",
                QUARANTINED_COUNT,
                Pos(6, 0, 6, 4),
                y="quarantined",
                description="Files the loader refused (schema mismatch, bad manifest, ...).",
            ),
            stat(
                "Sessions overdue or FAILED",
                problem_count,
                Pos(12, 0, 6, 4),
                y="sessions",
                description=f"Calendar sessions FAILED, or ended over {OVERDUE_HOURS} h ago and not ingested.",
            ),
            bars("Sessions by calendar status", CALENDAR_STATUS, Pos(18, 0, 6, 4), x="status", y="sessions"),
            stat(
                "Open load-health findings",
                OPEN_FINDINGS,
                Pos(0, 4, 6, 4),
                y="findings",
                description="Files FAILED or MISSING and pipes not running at the latest hourly load-health check "
                "(staging.load_health).",
            ),
            stat(
                "Hours since the load-health check",
                last_check,
                Pos(6, 4, 6, 4),
                y="hours",
                unit="h",
                description="The check runs hourly; more than 2 h means it stopped (its alarm fires too).",
            ),
            bars(
                "Files by load-health status",
                FILES_BY_HEALTH,
                Pos(12, 4, 12, 4),
                x="status",
                y="files",
                description="Every file of the runs the latest check covered: the last day's and any still open.",
            ),
            table(
                "Load-health findings (open and in flight)",
                findings,
                Pos(0, 8, 24, 7),
                description="Per file: FAILED (with the load error), MISSING (listed by its manifest, not in staging "
                "after the grace period) or IN_FLIGHT; per pipe: not running, with its error. A finding is resolved "
                "(the row leaves this table) when the next check finds the file loaded.",
                empty_ok="the latest check found every file loaded and every pipe running",
            ),
            table(
                "Freshness per dataset",
                freshness,
                Pos(0, 15, 10, 12),
                description="Latest `_load_time` of each staging table.",
            ),
            bars(
                "Rows landed per run (latest 20 runs)",
                ROWS_PER_RUN,
                Pos(10, 15, 14, 12),
                x="run",
                y="rows",
                series="dataset",
                stack=True,
                description="Rows loaded from each ingestion run, by dataset.",
            ),
            table(
                "Loads per dataset",
                LOAD_OUTCOMES,
                Pos(0, 27, 12, 9),
                description="Files and rows loaded, files quarantined and the latest error per dataset.",
            ),
            table(
                "Overdue or FAILED sessions",
                problem_sessions,
                Pos(12, 27, 12, 9),
                description="From the race calendar exported to staging.race_calendar.",
                empty_ok="every past session is ingested",
            ),
            table(
                "Quarantined files (latest 50)",
                QUARANTINED_FILES,
                Pos(0, 36, 24, 6),
                description="Latest files the loader quarantined, with the error.",
                empty_ok="a healthy pipeline quarantines nothing",
            ),
        ),
    )
