"""Grafana alert rules, written once next to the dashboards and emitted for every datasource.

A rule is an :class:`AlertRuleSpec`: its SQL queries (written once, both dialects, as panel SQL is) and a
server-side math expression over them that is non-zero where the rule fires. Each query returns a table with
string columns (Grafana turns them into labels: one alert instance per label set, e.g. one per driver) and
one numeric column (the value). :func:`provisioned_rule` emits the rule in the shape of Grafana's alerting
provisioning HTTP API (`ProvisionedAlertRule`); the provisioning file (`provisioning/alerting/`), the upload
command and the Pulumi Grafana stack all start from it. The rules route to one contact point through one
notification policy route, matched on the `project` label every rule carries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from f1common.grafana import EXPRESSION_DATASOURCE_UID
from grandprix_dashboards import pipeline_health
from grandprix_dashboards.datasources import Datasource, Format
from grandprix_dashboards.sql import Dialect, SqlSource, render

PROJECT_LABEL = ("project", "grand-prix-insights")
CONTACT_POINT = "grand-prix-insights"
# Notifications group per rule and per alert instance's identity (a session, a driver): one message each.
GROUP_BY = ("alertname", "grafana_folder", "session", "driver")
EXPRESSION_REF = {"type": EXPRESSION_DATASOURCE_UID, "uid": EXPRESSION_DATASOURCE_UID}
ORG_ID = 1
_REF = re.compile(r"\$\{?([A-Za-z][A-Za-z0-9_]*)\}?")


class ScopedSql(Protocol):
    """Rule SQL over the recent races, or over `scope` (an SQL condition) when one is given."""

    def __call__(self, d: Dialect, scope: str | None = None) -> str:
        ...


@dataclass(frozen=True)
class AlertQuery:
    """One datasource query of a rule: a table of label columns and one numeric value column."""

    ref_id: str
    sql: SqlSource
    labels: tuple[str, ...]  # the string columns, in order
    value: str  # the numeric column
    lookback_s: int = 600  # relative time range handed to the query (the SQL does not use $__timeFilter)
    # The same SQL over a chosen scope (an SQL condition) instead of the recent races: the local evaluation runs
    # it for one session (SESSION_SCOPE).
    scoped: ScopedSql | None = None

    def for_session(self) -> SqlSource:
        """The query for the session in `${session_key}` (as is when it has no scope)."""
        scoped = self.scoped
        if scoped is None:
            return self.sql
        return lambda d: scoped(d, SESSION_SCOPE)


@dataclass(frozen=True)
class AlertRuleSpec:
    uid: str
    title: str
    queries: tuple[AlertQuery, ...]
    condition: str  # a math expression over the queries' refIds, non-zero where the rule fires
    summary: str  # annotation templates: {{ $labels.x }}, {{ $values.A.Value }}
    description: str
    labels: Mapping[str, str] = field(default_factory=dict)
    dashboard_uid: str | None = None  # linked from the notification (per datasource: `<uid>-<datasource>`)
    for_: str = "0s"
    no_data_state: str = "OK"  # no rows means nothing to report
    exec_err_state: str = "Error"

    @property
    def condition_ref(self) -> str:
        return "C"


@dataclass(frozen=True)
class RuleGroupSpec:
    name: str
    interval_s: int
    rules: tuple[AlertRuleSpec, ...]


# --- the rules -----------------------------------------------------------------------------------------


def problem_sessions_by_session(d: Any) -> str:
    return f"""
    select pk as "session", event_name as "event", status as "status",
           round({d.hours_since('end_utc')}, 1) as "hours_since_end"
    from {pipeline_health.CALENDAR}
    where {pipeline_health.problem_filter(d)}
    """


SESSIONS_OVERDUE = AlertRuleSpec(
    uid="gpi-sessions-overdue",
    title="Session overdue or FAILED",
    queries=(
        AlertQuery("A", problem_sessions_by_session, labels=("session", "event", "status"), value="hours_since_end"),
    ),
    condition="$A > 0",
    summary="{{ $labels.session }} ({{ $labels.event }}) is {{ $labels.status }}",
    description="Session {{ $labels.session }} of the {{ $labels.event }} ended {{ $values.A.Value }} h ago and "
    f"is {{{{ $labels.status }}}}: FAILED, or not ingested within {pipeline_health.OVERDUE_HOURS} h of its end. "
    "See the race calendar on the Pipeline health dashboard.",
    labels={"area": "pipeline"},
    dashboard_uid="gpi-pipeline-health",
)


LOAD_HEALTH_FINDINGS = AlertRuleSpec(
    uid="gpi-load-health-findings",
    title="Load-health finding open",
    queries=(
        AlertQuery(
            "A",
            pipeline_health.open_findings_by_subject,
            labels=("kind", "subject", "dataset", "status", "reason"),
            value="hours",
        ),
    ),
    # Every open finding fires: the check already waits out a file's grace period before it calls it MISSING.
    condition="$A >= 0",
    summary="{{ $labels.kind }} {{ $labels.subject }} is {{ $labels.status }}",
    description="The hourly load-health check finds {{ $labels.kind }} {{ $labels.subject }} ({{ $labels.dataset }}) "
    "{{ $labels.status }} for {{ $values.A.Value }} h: {{ $labels.reason }}. "
    "See the load-health findings on the Pipeline health dashboard.",
    labels={"area": "pipeline"},
    dashboard_uid="gpi-pipeline-health",
)


# Pace changes: a driver's fuel-corrected clean-lap time at least PACE_DROP_S slower than the median of their
# previous 5 clean laps (mart_pace_changes, var pace_baseline_clean_laps) on two consecutive laps, both clean
# (so never a pit, SC, VSC, yellow or red-flag lap), neither of them a restart lap or a lap on which the driver was
# shown blue flags (being lapped), and on both laps also PACE_DROP_S more than the field's median driver lost
# against their own baselines (rain or a drying track slows everyone: that is not the car).
# The pair's pace drop is the smallest of those four margins.
PACE_MART = "analytics.mart_pace_changes"
PACE_DROP_S = 1.5
PACE_RUN_LAPS = 2
RECENT_HOURS = 24  # the rule looks at races whose laps ended in the last day (data lands 1-2 h after the flag)
# The local evaluation scopes the same query to one session instead (a Grafana variable, quoted as a string).
SESSION_SCOPE = "session_key = '${session_key:percentencode}'"


def recent_scope(d: Dialect) -> str:
    recent = d.hours_before_now(RECENT_HOURS)
    return f"session_key in (select session_key from {PACE_MART} where lap_end_utc >= {recent})"


def pace_drop_pairs(d: Dialect, scope: str) -> str:
    """Every clean lap that follows a clean lap, with the pair's pace drop (s) against the driver's baseline
    and against the field's change on the same laps."""
    by_driver = "over (partition by session_key, driver_number order by lap_number)"
    return f"""
    with scoped as (
      select *, is_clean_lap and not is_blue_flagged and not is_restart_lap as counts
      from {PACE_MART} where {scope}
    ),
    field as (
      select session_key, lap_number, median(fuel_corrected_delta_ms) as field_delta_ms
      from scoped
      where counts and fuel_corrected_delta_ms is not null
      group by session_key, lap_number
    ),
    laps as (
      select scoped.session_key, season, event_name, session, driver, driver_number, team_name,
             scoped.lap_number, counts, fuel_corrected_delta_ms,
             fuel_corrected_delta_ms - field.field_delta_ms as vs_field_ms
      from scoped
      left join field on field.session_key = scoped.session_key and field.lap_number = scoped.lap_number
    ),
    paired as (
      select laps.*,
             lag(lap_number) {by_driver} as prev_lap,
             lag(counts) {by_driver} as prev_counts,
             lag(fuel_corrected_delta_ms) {by_driver} as prev_delta_ms,
             lag(vs_field_ms) {by_driver} as prev_vs_field_ms
      from laps
    )
    select session_key, season, event_name, session, driver, team_name, lap_number,
           fuel_corrected_delta_ms / 1000.0 as delta_s,
           least(fuel_corrected_delta_ms, prev_delta_ms, vs_field_ms, prev_vs_field_ms) / 1000.0 as drop_s
    from paired
    where counts and prev_counts and prev_lap = lap_number - 1
      and fuel_corrected_delta_ms is not null and prev_delta_ms is not null
      and vs_field_ms is not null and prev_vs_field_ms is not null"""


def firing_laps(d: Dialect, scope: str = SESSION_SCOPE) -> str:
    """The laps the pace-change rule fires on: the second lap of each pair at least PACE_DROP_S slow."""
    return f"""
    with pairs as ({pace_drop_pairs(d, scope)})
    select session_key as "session_key", event_name as "event", session as "session", driver as "driver",
           team_name as "team", lap_number as "lap", round(delta_s, 3) as "delta_s", round(drop_s, 3) as "drop_s"
    from pairs
    where drop_s >= {PACE_DROP_S}
    order by session_key, lap_number, driver"""


def _pace_by_driver(value: str) -> ScopedSql:
    def sql(d: Dialect, scope: str | None = None) -> str:
        return f"""
    with pairs as ({pace_drop_pairs(d, scope or recent_scope(d))})
    select event_name || ' ' || session as "race", driver as "driver", max(team_name) as "team", {value}
    from pairs
    group by event_name || ' ' || session, driver"""

    return sql


# A: the driver's largest pace drop of the race (s); B: the lap it ended on (the rule's notification names both).
PACE_DROP_BY_DRIVER = _pace_by_driver('round(max(drop_s), 2) as "drop_s"')
PACE_DROP_LAP_BY_DRIVER = _pace_by_driver('max_by(lap_number, drop_s) as "lap"')

PACE_CHANGE = AlertRuleSpec(
    uid="gpi-pace-change",
    title="Driver pace dropped abruptly",
    queries=(
        AlertQuery(
            "A", PACE_DROP_BY_DRIVER, labels=("race", "driver", "team"), value="drop_s", scoped=PACE_DROP_BY_DRIVER
        ),
        AlertQuery(
            "B", PACE_DROP_LAP_BY_DRIVER, labels=("race", "driver", "team"), value="lap", scoped=PACE_DROP_LAP_BY_DRIVER
        ),
    ),
    condition=f"$A >= {PACE_DROP_S}",
    summary="{{ $labels.driver }} lost {{ $values.A.Value }} s a lap at lap {{ $values.B.Value }} "
    "({{ $labels.race }})",
    description=f"{{{{ $labels.driver }}}} ({{{{ $labels.team }}}}) ran {PACE_RUN_LAPS} consecutive clean laps at "
    f"least {{{{ $values.A.Value }}}} s slower (fuel-corrected) than the median of their previous 5 clean laps, "
    f"and by as much more than the field lost on those laps, "
    f"ending on lap {{{{ $values.B.Value }}}} of the {{{{ $labels.race }}}}: a puncture, damage or a failing car? "
    f"(threshold {PACE_DROP_S} s; pit, safety-car, VSC, yellow, red-flag, restart and blue-flag laps never count)",
    labels={"area": "race"},
    dashboard_uid="gpi-race-progress",
)


def rule_groups() -> list[RuleGroupSpec]:
    """Every alert rule of the project, by evaluation group."""
    return [
        RuleGroupSpec("pipeline-health", 300, (SESSIONS_OVERDUE, LOAD_HEALTH_FINDINGS)),
        RuleGroupSpec("race-pace", 300, (PACE_CHANGE,)),
    ]


# --- Grafana shapes --------------------------------------------------------------------------------------


def rule_uid(rule: AlertRuleSpec, ds: Datasource) -> str:
    return f"{rule.uid}-{ds.key}"


def rule_data(rule: AlertRuleSpec, ds: Datasource) -> list[dict[str, Any]]:
    """The rule's `data`: the datasource queries (in the plugin's target shape) and the condition expression."""
    data: list[dict[str, Any]] = []
    for query in rule.queries:
        model = ds.target(query.ref_id, render(query.sql, ds.sql_dialect), Format.TABLE)
        data.append(
            {
                "refId": query.ref_id,
                "queryType": "",
                "datasourceUid": ds.uid,
                "relativeTimeRange": {"from": query.lookback_s, "to": 0},
                "model": model,
            }
        )
    data.append(
        {
            "refId": rule.condition_ref,
            "queryType": "",
            "datasourceUid": EXPRESSION_DATASOURCE_UID,
            "relativeTimeRange": {"from": 0, "to": 0},
            "model": {
                "refId": rule.condition_ref,
                "type": "math",
                "expression": rule.condition,
                "datasource": EXPRESSION_REF,
            },
        }
    )
    return data


def provisioned_rule(rule: AlertRuleSpec, ds: Datasource, *, folder_uid: str, group: str) -> dict[str, Any]:
    """The rule as Grafana's provisioning API takes it (`POST /api/v1/provisioning/alert-rules`)."""
    annotations = {"summary": rule.summary, "description": rule.description}
    if rule.dashboard_uid:
        annotations["__dashboardUid__"] = f"{rule.dashboard_uid}-{ds.key}"
    return {
        "uid": rule_uid(rule, ds),
        "orgID": ORG_ID,
        "folderUID": folder_uid,
        "ruleGroup": group,
        "title": rule.title,
        "condition": rule.condition_ref,
        "data": rule_data(rule, ds),
        "noDataState": rule.no_data_state,
        "execErrState": rule.exec_err_state,
        "for": rule.for_,
        "annotations": annotations,
        "labels": {PROJECT_LABEL[0]: PROJECT_LABEL[1], **rule.labels},
        "isPaused": False,
    }


def rule_group(group: RuleGroupSpec, ds: Datasource, folder_uid: str) -> dict[str, Any]:
    """The group as `PUT /api/v1/provisioning/folder/{folderUid}/rule-groups/{group}` takes it."""
    return {
        "title": group.name,
        "folderUid": folder_uid,
        "interval": group.interval_s,
        "rules": [provisioned_rule(r, ds, folder_uid=folder_uid, group=group.name) for r in group.rules],
    }


def route() -> dict[str, Any]:
    """The notification policy route that sends every project rule to the project's contact point."""
    return {
        "receiver": CONTACT_POINT,
        "object_matchers": [[PROJECT_LABEL[0], "=", PROJECT_LABEL[1]]],
        "group_by": list(GROUP_BY),
        "group_wait": "30s",
        "group_interval": "5m",
        "repeat_interval": "12h",
    }


def provisioning_file(
    groups: list[RuleGroupSpec], folders: Mapping[str, tuple[str, Datasource]], email_env: str = "GPI_ALERT_EMAIL"
) -> dict[str, Any]:
    """Grafana's alerting provisioning file: every group for each folder (uid -> (title, datasource)), the
    contact point (address from `$email_env`) and the policy route."""
    file_groups = []
    for folder_uid, (title, ds) in folders.items():
        for group in groups:
            rules = []
            for rule in group.rules:
                api = provisioned_rule(rule, ds, folder_uid=folder_uid, group=group.name)
                rules.append({k: v for k, v in api.items() if k not in ("orgID", "folderUID", "ruleGroup")})
            file_groups.append(
                {
                    "orgId": ORG_ID,
                    "name": group.name,
                    "folder": title,
                    "interval": f"{group.interval_s}s",
                    "rules": rules,
                }
            )
    return {
        "apiVersion": 1,
        "groups": file_groups,
        "contactPoints": [
            {
                "orgId": ORG_ID,
                "name": CONTACT_POINT,
                "receivers": [
                    {
                        "uid": "gpi-email",
                        "type": "email",
                        "settings": {"addresses": f"${{{email_env}}}"},
                        "disableResolveMessage": False,
                    }
                ],
            }
        ],
        "policies": [
            {
                "orgId": ORG_ID,
                "receiver": CONTACT_POINT,
                "group_by": ["grafana_folder", "alertname"],
                "routes": [route()],
            }
        ],
    }


def expression_refs(expression: str) -> list[str]:
    """The refIds a math expression reads (`$A`, `${B}`)."""
    return _REF.findall(expression)
