"""The ingestion service's race-calendar writes: its idempotency record and the session's outcome.

Both live in the calendar table (hash key ``pk``, the codec of :mod:`f1common.race_calendar`), as
CONTRACTS.md describes:

* ``pk = "idempotency#<session key>"``: a Powertools-style record. A run claims it with a conditional
  put (absent, or INPROGRESS and expired), marks it COMPLETE when its manifest is written, or deletes
  it (release) when it ends without landing (not available yet, or an exception). A run that dies
  leaves INPROGRESS with ``expires_at`` (epoch seconds, the table's TTL attribute): after that
  instant a retry may take the record over.
* ``pk = "<session key>"``: the session's calendar item; ingestion sets INGESTED or NOT_AVAILABLE,
  creating the item with its schedule fields when the scheduler has not.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from f1common.datasets import ScheduleRow
from f1common.events import CalendarStatus
from f1common.names import CALENDAR_KEY, CALENDAR_TTL_ATTRIBUTE
from f1common.race_calendar import (
    RaceCalendar,
    identity_fields,
    is_condition_failure,
    key,
    schedule_fields,
    to_attributes,
)
from f1common.sessions import SessionId

IDEMPOTENCY_PREFIX = "idempotency#"
INPROGRESS = "INPROGRESS"
COMPLETE = "COMPLETE"
DEFAULT_IN_PROGRESS_TTL = dt.timedelta(minutes=15)  # the Lambda timeout ceiling


def idempotency_key(session: SessionId) -> str:
    return f"{IDEMPOTENCY_PREFIX}{session.key}"


@dataclass(frozen=True)
class Claim:
    """The result of trying to claim a session: either ours, or held by ``holder`` (a run id)."""

    acquired: bool
    status: str | None = None  # of the existing record when not acquired
    holder: str | None = None


class IngestionRecords:
    """Claims and outcomes in the calendar table (accepts a low-level client or a boto3 Table resource)."""

    def __init__(self, client_or_table: Any, table_name: str | None = None) -> None:
        self.calendar = RaceCalendar(client_or_table, table_name)
        self.client, self.name = self.calendar.client, self.calendar.table_name

    # --- idempotency ---------------------------------------------------------------------------

    def claim(self, session: SessionId, run_id: str, now: dt.datetime, ttl: dt.timedelta) -> Claim:
        """Claims the session for ``run_id``: succeeds when no record exists or an INPROGRESS one expired."""
        item = {
            CALENDAR_KEY: idempotency_key(session),
            "status": INPROGRESS,
            "run_id": run_id,
            "session_key": session.key,
            "started_at": now,
            CALENDAR_TTL_ATTRIBUTE: int((now + ttl).timestamp()),
        }
        try:
            self.client.put_item(
                TableName=self.name,
                Item=to_attributes(item),
                ConditionExpression="attribute_not_exists(#pk) OR (#status = :inprogress AND #exp < :now)",
                ExpressionAttributeNames={"#pk": CALENDAR_KEY, "#status": "status", "#exp": CALENDAR_TTL_ATTRIBUTE},
                ExpressionAttributeValues=to_attributes({":inprogress": INPROGRESS, ":now": int(now.timestamp())}),
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise
            existing = self.get(idempotency_key(session)) or {}
            return Claim(acquired=False, status=existing.get("status"), holder=existing.get("run_id"))
        return Claim(acquired=True)

    def complete(self, session: SessionId, run_id: str, now: dt.datetime) -> None:
        """Marks the claim COMPLETE (no expiry: later deliveries stay duplicates)."""
        self.client.update_item(
            TableName=self.name,
            Key=key(idempotency_key(session)),
            UpdateExpression="SET #status = :complete, completed_at = :now REMOVE #exp",
            ConditionExpression="run_id = :run_id",
            ExpressionAttributeNames={"#status": "status", "#exp": CALENDAR_TTL_ATTRIBUTE},
            ExpressionAttributeValues=to_attributes({":complete": COMPLETE, ":now": now, ":run_id": run_id}),
        )

    def release(self, session: SessionId, run_id: str) -> None:
        """Deletes our INPROGRESS claim so the next delivery runs again; a no-op if another run took it."""
        try:
            self.client.delete_item(
                TableName=self.name,
                Key=key(idempotency_key(session)),
                ConditionExpression="run_id = :run_id AND #status = :inprogress",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_attributes({":run_id": run_id, ":inprogress": INPROGRESS}),
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise

    # --- session items -------------------------------------------------------------------------

    def mark_ingested(
        self,
        session: SessionId,
        *,
        schedule: ScheduleRow,
        run_id: str,
        rows: dict[str, int],
        missing: list[str],
        attempt: int,
        now: dt.datetime,
    ) -> None:
        self._update_session(
            session,
            schedule,
            now,
            {
                "status": CalendarStatus.INGESTED,
                "run_id": run_id,
                "rows": rows,
                "missing": missing,
                "attempt": attempt,
                "ingested_at": now,
                "message": f"ingested by run {run_id}",
            },
        )

    def mark_not_available(
        self, session: SessionId, *, schedule: ScheduleRow, attempt: int, message: str, now: dt.datetime
    ) -> None:
        values = {"status": CalendarStatus.NOT_AVAILABLE, "attempt": attempt, "message": message}
        self._update_session(session, schedule, now, values)

    def _update_session(
        self, session: SessionId, schedule: ScheduleRow, now: dt.datetime, values: dict[str, Any]
    ) -> None:
        """Sets ``values`` on the session's item, creating it with its schedule fields if absent."""
        self.calendar.update(
            session.key,
            {**values, "updated_at": now},
            defaults={**identity_fields(session), **schedule_fields(schedule)},
            must_exist=False,
        )

    def get(self, pk: str) -> dict[str, Any] | None:
        """Any item of the table (the idempotency record or the session's item) as plain values."""
        return self.calendar.get_attributes(pk)
