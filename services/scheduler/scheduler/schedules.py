"""EventBridge Scheduler one-time schedules that invoke the ingestion Lambda: for one session, or to land a
season's schedule dataset after a calendar sync."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from f1common.clock import utc_iso
from f1common.events import IngestionRequest
from f1common.sessions import SessionId
from f1common.settings import Settings, ingestion_target_arn, invoke_role_arn

SCHEDULE_PREFIX = "ingest"
LANDING_PREFIX = "land-schedule"  # one-time schedules that land a season's schedule dataset
LANDING_DELAY = dt.timedelta(minutes=1)
MAX_RETRY_ATTEMPTS = 2  # EventBridge Scheduler's own retries when the invocation fails
MAX_EVENT_AGE_SECONDS = 3600
_AT_RE = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")


def schedule_name(session: SessionId, attempt: int) -> str:
    """Deterministic name, so a second invocation cannot create a duplicate: `ingest-2025-01-R-a1`."""
    return f"{SCHEDULE_PREFIX}-{session.key}-a{attempt}"


def dlq_arn(settings: Settings, sqs: Any) -> str:
    """The dead-letter queue's ARN: from settings, else looked up by the queue name."""
    if settings.ingestion_dlq_arn:
        return settings.ingestion_dlq_arn
    url = sqs.get_queue_url(QueueName=settings.dlq)["QueueUrl"]
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def at_expression(when: dt.datetime) -> str:
    """`at(yyyy-mm-ddThh:mm:ss)` in UTC (used with ScheduleExpressionTimezone=UTC): ISO without the `Z`."""
    if when.tzinfo is None:
        raise ValueError(f"schedule time {when!r} has no time zone")
    return f"at({utc_iso(when).removesuffix('Z')})"


def parse_at_expression(expression: str, timezone: str | None = "UTC") -> dt.datetime:
    """The instant of an `at(...)` expression; only UTC schedules are created by this service."""
    match = _AT_RE.match(expression.strip())
    if match is None:
        raise ValueError(f"not a one-time schedule expression: {expression!r}; expected at(yyyy-mm-ddThh:mm:ss)")
    if timezone is not None and timezone not in ("UTC", "Etc/UTC"):
        from zoneinfo import ZoneInfo

        return dt.datetime.fromisoformat(match[1]).replace(tzinfo=ZoneInfo(timezone)).astimezone(dt.UTC)
    return dt.datetime.fromisoformat(match[1]).replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class ScheduleTarget:
    """Where the one-time schedules go; built once per invocation."""

    group: str
    function_arn: str
    role_arn: str
    dlq_arn: str

    @classmethod
    def from_settings(cls, settings: Settings, sqs: Any) -> ScheduleTarget:
        return cls(
            group=settings.group,
            function_arn=ingestion_target_arn(settings),
            role_arn=invoke_role_arn(settings),
            dlq_arn=dlq_arn(settings, sqs),
        )


def create_ingestion_schedule(
    scheduler: Any, target: ScheduleTarget, request: IngestionRequest, when: dt.datetime
) -> bool:
    """Creates the one-time schedule of `request`; False when it already exists (ConflictException)."""
    return _create_one_time(
        scheduler,
        target,
        name=schedule_name(request.session_id, request.attempt),
        when=when,
        payload=request.to_payload(),
        description=f"Ingest {request.session_id.key} (attempt {request.attempt}, {request.reason})",
    )


def schedule_landing_name(season: int, now: dt.datetime) -> str:
    """`land-schedule-2025-20261201T1450`: one landing request per season per sync minute."""
    return f"{LANDING_PREFIX}-{season:04d}-{now.astimezone(dt.UTC):%Y%m%dT%H%M}"


def create_schedule_landing(scheduler: Any, target: ScheduleTarget, season: int, now: dt.datetime) -> bool:
    """Asks the ingestion service to land `season`'s schedule dataset, one minute from `now`, through a
    one-time schedule like a session's (same target, retries and dead-letter queue). The ingestion service
    lands it only when it changed. False when the same request already exists."""
    return _create_one_time(
        scheduler,
        target,
        name=schedule_landing_name(season, now),
        when=now + LANDING_DELAY,
        payload={"kind": "schedule", "season": season},
        description=f"Land the {season} season schedule (after a calendar sync)",
    )


def _create_one_time(
    scheduler: Any, target: ScheduleTarget, *, name: str, when: dt.datetime, payload: dict[str, Any], description: str
) -> bool:
    try:
        scheduler.create_schedule(
            Name=name,
            GroupName=target.group,
            ScheduleExpression=at_expression(when),
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            State="ENABLED",
            Description=description,
            Target={
                "Arn": target.function_arn,
                "RoleArn": target.role_arn,
                "Input": json.dumps(payload, sort_keys=True),
                "RetryPolicy": {
                    "MaximumEventAgeInSeconds": MAX_EVENT_AGE_SECONDS,
                    "MaximumRetryAttempts": MAX_RETRY_ATTEMPTS,
                },
                "DeadLetterConfig": {"Arn": target.dlq_arn},
            },
        )
    except ClientError as exc:
        if _error_code(exc) == "ConflictException":
            return False
        raise
    return True


def _error_code(exc: ClientError) -> str | None:
    code = exc.response.get("Error", {}).get("Code")
    return None if code is None else str(code)


def schedule_exists(scheduler: Any, group: str, name: str) -> bool | None:
    """Whether the schedule exists; None when the scheduler cannot say (its error is not "not found")."""
    try:
        scheduler.get_schedule(Name=name, GroupName=group)
    except ClientError as exc:
        return False if _error_code(exc) == "ResourceNotFoundException" else None
    except (BotoCoreError, OSError):  # a timeout, the endpoint unreachable: unknown
        return None
    return True


def delete_schedule(scheduler: Any, group: str, name: str) -> bool:
    """Deletes a schedule; False when it no longer exists (it fired, or was deleted before)."""
    try:
        scheduler.delete_schedule(Name=name, GroupName=group)
    except ClientError as exc:
        if _error_code(exc) == "ResourceNotFoundException":
            return False
        raise
    return True


def list_schedule_summaries(scheduler: Any, group: str) -> list[dict[str, Any]]:
    """The group's schedules as ListSchedules summarizes them (name, state, versions), every page."""
    summaries: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"GroupName": group}
    while True:
        page = scheduler.list_schedules(**kwargs)
        summaries.extend(page.get("Schedules", []))
        if not (token := page.get("NextToken")):
            return summaries
        kwargs["NextToken"] = token


def list_schedule_names(scheduler: Any, group: str) -> list[str]:
    """The names of the group's schedules, every page."""
    return [s["Name"] for s in list_schedule_summaries(scheduler, group)]
