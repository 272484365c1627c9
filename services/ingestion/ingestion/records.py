"""DynamoDB race-calendar writes of the ingestion service: the idempotency record and session status.

Both live in the calendar table (hash key ``pk``), as CONTRACTS.md describes:

* ``pk = "idempotency#<session key>"``: a Powertools-style record. A run claims it with a conditional
  put (absent, or INPROGRESS and expired), marks it COMPLETE when its manifest is written, or deletes
  it (release) when it ends without landing (not available yet, or an exception). A run that dies
  leaves INPROGRESS with ``expires_at`` (epoch seconds, the table's TTL attribute): after that
  instant a retry may take the record over.
* ``pk = "<session key>"``: the session's calendar item; ingestion sets INGESTED or NOT_AVAILABLE.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from f1common.datasets import ScheduleRow
from f1common.events import CalendarStatus
from f1common.names import CALENDAR_KEY, CALENDAR_TTL_ATTRIBUTE
from f1common.schedule import expected_end
from f1common.sessions import SessionId

IDEMPOTENCY_PREFIX = "idempotency#"
INPROGRESS = "INPROGRESS"
COMPLETE = "COMPLETE"
DEFAULT_IN_PROGRESS_TTL = dt.timedelta(minutes=15)  # the Lambda timeout ceiling

_ser = TypeSerializer()
_de = TypeDeserializer()


def idempotency_key(session: SessionId) -> str:
    return f"{IDEMPOTENCY_PREFIX}{session.key}"


@dataclass(frozen=True)
class Claim:
    """The result of trying to claim a session: either ours, or held by ``holder`` (a run id)."""

    acquired: bool
    status: str | None = None  # of the existing record when not acquired
    holder: str | None = None


class CalendarTable:
    """The calendar table through the low-level client (accepts a client or a boto3 Table resource)."""

    def __init__(self, client_or_table: Any, table_name: str | None = None) -> None:
        if hasattr(client_or_table, "table_name") and hasattr(client_or_table, "meta"):  # a Table resource
            # The resource's own client re-serialises typed values: use a plain client of the same endpoint.
            meta = client_or_table.meta.client.meta
            self.client = boto3.client("dynamodb", region_name=meta.region_name, endpoint_url=meta.endpoint_url)
            self.name = client_or_table.table_name
        else:
            if table_name is None:
                raise ValueError("table_name is required with a DynamoDB client")
            self.client = client_or_table
            self.name = table_name

    # --- idempotency ---------------------------------------------------------------------------

    def claim(self, session: SessionId, run_id: str, now: dt.datetime, ttl: dt.timedelta) -> Claim:
        """Claims the session for ``run_id``: succeeds when no record exists or an INPROGRESS one expired."""
        item = {
            CALENDAR_KEY: idempotency_key(session),
            "status": INPROGRESS,
            "run_id": run_id,
            "session_key": session.key,
            "started_at": _iso(now),
            CALENDAR_TTL_ATTRIBUTE: int((now + ttl).timestamp()),
        }
        try:
            self.client.put_item(
                TableName=self.name,
                Item=_serialize(item),
                ConditionExpression="attribute_not_exists(#pk) OR (#status = :inprogress AND #exp < :now)",
                ExpressionAttributeNames={"#pk": CALENDAR_KEY, "#status": "status", "#exp": CALENDAR_TTL_ATTRIBUTE},
                ExpressionAttributeValues=_serialize({":inprogress": INPROGRESS, ":now": int(now.timestamp())}),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            existing = self.get(idempotency_key(session)) or {}
            return Claim(acquired=False, status=existing.get("status"), holder=existing.get("run_id"))
        return Claim(acquired=True)

    def complete(self, session: SessionId, run_id: str, now: dt.datetime) -> None:
        """Marks the claim COMPLETE (no expiry: later deliveries stay duplicates)."""
        self.client.update_item(
            TableName=self.name,
            Key=_serialize({CALENDAR_KEY: idempotency_key(session)}),
            UpdateExpression="SET #status = :complete, completed_at = :now REMOVE #exp",
            ConditionExpression="run_id = :run_id",
            ExpressionAttributeNames={"#status": "status", "#exp": CALENDAR_TTL_ATTRIBUTE},
            ExpressionAttributeValues=_serialize({":complete": COMPLETE, ":now": _iso(now), ":run_id": run_id}),
        )

    def release(self, session: SessionId, run_id: str) -> None:
        """Deletes our INPROGRESS claim so the next delivery runs again; a no-op if another run took it."""
        try:
            self.client.delete_item(
                TableName=self.name,
                Key=_serialize({CALENDAR_KEY: idempotency_key(session)}),
                ConditionExpression="run_id = :run_id AND #status = :inprogress",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=_serialize({":run_id": run_id, ":inprogress": INPROGRESS}),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
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
                "status": CalendarStatus.INGESTED.value,
                "run_id": run_id,
                "rows": rows,
                "missing": missing,
                "attempt": attempt,
                "ingested_at": _iso(now),
                "message": f"ingested by run {run_id}",
            },
        )

    def mark_not_available(
        self, session: SessionId, *, schedule: ScheduleRow, attempt: int, message: str, now: dt.datetime
    ) -> None:
        values = {"status": CalendarStatus.NOT_AVAILABLE.value, "attempt": attempt, "message": message}
        self._update_session(session, schedule, now, values)

    def _update_session(
        self, session: SessionId, schedule: ScheduleRow, now: dt.datetime, values: dict[str, Any]
    ) -> None:
        """Sets ``values`` on the session's item, creating it with its schedule fields if absent."""
        start = schedule.session_start_utc
        end = expected_end(schedule)
        defaults = {
            "season": session.season,
            "round": session.round,
            "session": session.session.code,
            "event_name": schedule.event_name,
            "country": schedule.country,
            "location": schedule.location,
            "session_name": schedule.session_name,
            "start_utc": _iso(start) if start else None,
            "end_utc": _iso(end) if end else None,
        }
        defaults = {k: v for k, v in defaults.items() if v is not None}
        names: dict[str, str] = {}
        attr_values: dict[str, Any] = {}
        parts = []
        for i, (name, value) in enumerate({**values, "updated_at": _iso(now)}.items()):
            names[f"#v{i}"] = name
            attr_values[f":v{i}"] = value
            parts.append(f"#v{i} = :v{i}")
        for i, (name, value) in enumerate(defaults.items()):
            names[f"#d{i}"] = name
            attr_values[f":d{i}"] = value
            parts.append(f"#d{i} = if_not_exists(#d{i}, :d{i})")
        self.client.update_item(
            TableName=self.name,
            Key=_serialize({CALENDAR_KEY: session.key}),
            UpdateExpression="SET " + ", ".join(parts),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=_serialize(attr_values),
        )

    def get(self, pk: str) -> dict[str, Any] | None:
        response = self.client.get_item(TableName=self.name, Key=_serialize({CALENDAR_KEY: pk}), ConsistentRead=True)
        item = response.get("Item")
        return None if item is None else {k: _de.deserialize(v) for k, v in item.items()}


def _serialize(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in values.items()}


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
