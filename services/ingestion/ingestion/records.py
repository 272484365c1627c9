"""The ingestion service's race-calendar writes: its idempotency record and the session's outcome.

Both live in the calendar table (hash key ``pk``, the codec of :mod:`f1common.race_calendar`), as
CONTRACTS.md describes:

* ``pk = "idempotency#<session key>"``: a Powertools-style record, fenced by the claiming run's id (its
  token). A run claims it with a conditional put (absent, or INPROGRESS and expired); before it publishes
  its manifest it fences (INPROGRESS -> PUBLISHING, only while the record still names it: a run that lost its
  claim never publishes); after the manifest it marks it COMPLETE (PUBLISHING -> COMPLETE, again only while
  the record names it); it deletes the record (release) when it ends without landing (not available yet,
  or an exception before the fence). A run that dies leaves INPROGRESS or PUBLISHING with ``expires_at``
  (epoch seconds, the table's TTL attribute): after that instant a retry may take the record over (a
  PUBLISHING one only when the holder's manifest does not exist; if it exists, the run is complete and the
  retry completes the record for it).
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
    ConditionFailed,
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
PUBLISHING = "PUBLISHING"  # fenced: the holder is writing its manifest; nobody may take the claim over
COMPLETE = "COMPLETE"
DEFAULT_IN_PROGRESS_TTL = dt.timedelta(minutes=15)  # the Lambda timeout ceiling


def idempotency_key(session: SessionId) -> str:
    return f"{IDEMPOTENCY_PREFIX}{session.key}"


class ClaimLost(RuntimeError):
    """A run's fenced write failed (another run holds the session's claim now), or its publishing lease ran out
    before its manifest (another run may take the claim over). Nothing more is published."""


@dataclass(frozen=True)
class Claim:
    """The result of trying to claim a session: either ours, or held by ``holder`` (a run id)."""

    acquired: bool
    status: str | None = None  # of the existing record when not acquired
    holder: str | None = None
    expires_at: int | None = None  # of the existing record (epoch seconds) when not acquired
    previous: str | None = None  # when acquired by taking over an expired claim: the run that held it

    def expired(self, now: dt.datetime) -> bool:
        return self.expires_at is not None and self.expires_at < int(now.timestamp())


class IngestionRecords:
    """Claims and outcomes in the calendar table (accepts a low-level client or a boto3 Table resource)."""

    def __init__(self, client_or_table: Any, table_name: str | None = None) -> None:
        self.calendar = RaceCalendar(client_or_table, table_name)
        self.client, self.name = self.calendar.client, self.calendar.table_name

    # --- idempotency ---------------------------------------------------------------------------

    def claim(self, session: SessionId, run_id: str, now: dt.datetime, ttl: dt.timedelta) -> Claim:
        """Claims the session for ``run_id``: succeeds when no record exists or an INPROGRESS one expired."""
        condition = "attribute_not_exists(#pk) OR (#status = :inprogress AND #exp < :now)"
        return self._put_claim(session, run_id, now, ttl, condition, {":inprogress": INPROGRESS})

    def take_over(self, session: SessionId, run_id: str, holder: str, now: dt.datetime, ttl: dt.timedelta) -> Claim:
        """Claims a session whose expired PUBLISHING record names `holder` (whose manifest does not exist)."""
        condition = "#status = :publishing AND run_id = :holder AND #exp < :now"
        return self._put_claim(session, run_id, now, ttl, condition, {":publishing": PUBLISHING, ":holder": holder})

    def _put_claim(
        self,
        session: SessionId,
        run_id: str,
        now: dt.datetime,
        ttl: dt.timedelta,
        condition: str,
        values: dict[str, Any],
    ) -> Claim:
        item = {
            CALENDAR_KEY: idempotency_key(session),
            "status": INPROGRESS,
            "run_id": run_id,
            "session_key": session.key,
            "started_at": now,
            CALENDAR_TTL_ATTRIBUTE: int((now + ttl).timestamp()),
        }
        names = {"#status": "status", "#exp": CALENDAR_TTL_ATTRIBUTE}
        if "#pk" in condition:
            names["#pk"] = CALENDAR_KEY
        try:
            response = self.client.put_item(
                TableName=self.name,
                Item=to_attributes(item),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_attributes({**values, ":now": int(now.timestamp())}),
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise
            existing = self.get(idempotency_key(session)) or {}
            expires = existing.get(CALENDAR_TTL_ATTRIBUTE)
            return Claim(
                acquired=False,
                status=existing.get("status"),
                holder=existing.get("run_id"),
                expires_at=int(expires) if expires is not None else None,
            )
        old = response.get("Attributes", {}).get("run_id", {}).get("S")
        return Claim(acquired=True, previous=old)

    def fence(self, session: SessionId, run_id: str, now: dt.datetime, ttl: dt.timedelta) -> None:
        """INPROGRESS -> PUBLISHING while the record still names ``run_id``; :class:`ClaimLost` otherwise.

        From here nobody takes the claim over before ``now + ttl`` (the publishing lease), nor after it while
        the run's manifest exists.
        """
        lease = {CALENDAR_TTL_ATTRIBUTE: int((now + ttl).timestamp())}
        self._transition(session, run_id, INPROGRESS, PUBLISHING, lease)

    def complete(self, session: SessionId, run_id: str, now: dt.datetime, rows: dict[str, int] | None = None) -> None:
        """PUBLISHING -> COMPLETE (no expiry: later deliveries stay duplicates) while the record names
        ``run_id``; :class:`ClaimLost` otherwise."""
        self._transition(session, run_id, PUBLISHING, COMPLETE, {"completed_at": now, "rows": rows or {}}, expire=False)

    def _transition(
        self,
        session: SessionId,
        run_id: str,
        source: str,
        target: str,
        values: dict[str, Any],
        *,
        expire: bool = True,
    ) -> None:
        """Moves the record from `source` to `target` (setting `values`) only while it names `run_id`."""
        names = {"#status": "status", **{f"#v{i}": name for i, name in enumerate(values)}}
        attrs = {":target": target, ":source": source, ":run_id": run_id}
        attrs.update({f":v{i}": value for i, value in enumerate(values.values())})
        expression = "SET " + ", ".join(["#status = :target", *(f"#v{i} = :v{i}" for i in range(len(values)))])
        if not expire:
            names["#exp"] = CALENDAR_TTL_ATTRIBUTE
            expression += " REMOVE #exp"
        try:
            self.client.update_item(
                TableName=self.name,
                Key=key(idempotency_key(session)),
                UpdateExpression=expression,
                ConditionExpression="run_id = :run_id AND #status = :source",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_attributes(attrs),
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise
            holder = (self.get(idempotency_key(session)) or {}).get("run_id")
            raise ClaimLost(
                f"run {run_id} lost the claim of {session.key} (now held by {holder}): {source} -> {target} refused"
            ) from None

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
        attempt: int | None,
        now: dt.datetime,
    ) -> None:
        """The session's item INGESTED by `run_id` (also the repair of an item a completed run left behind)."""
        values: dict[str, Any] = {
            "status": CalendarStatus.INGESTED,
            "run_id": run_id,
            "rows": rows,
            "missing": missing,
            "next_attempt_utc": None,
            "ingested_at": now,
            "message": f"ingested by run {run_id}",
        }
        if attempt is not None:
            values["attempt"] = attempt
        self._update_session(session, schedule, now, values)

    def mark_not_available(
        self, session: SessionId, *, schedule: ScheduleRow, attempt: int, message: str, now: dt.datetime
    ) -> None:
        """NOT_AVAILABLE for `attempt`, only while that attempt is still the item's latest: the item is absent
        (created), or SCHEDULED / NOT_AVAILABLE at this attempt or an earlier one. Otherwise nothing changes: a
        complete run INGESTED it, the scheduler FAILED it or scheduled a later attempt, or a sync moved it
        (PENDING) or CANCELLED it since this attempt was scheduled (a late or stray delivery's outcome)."""
        values = {"status": CalendarStatus.NOT_AVAILABLE, "attempt": attempt, "message": message}
        try:
            self._update_session(
                session,
                schedule,
                now,
                values,
                one_of={"status": (CalendarStatus.SCHEDULED, CalendarStatus.NOT_AVAILABLE)},
                at_most={"attempt": attempt},
            )
        except ConditionFailed:
            return

    def _update_session(
        self,
        session: SessionId,
        schedule: ScheduleRow,
        now: dt.datetime,
        values: dict[str, Any],
        **conditions: Any,
    ) -> None:
        """Sets ``values`` on the session's item, creating it with its schedule fields if absent; `conditions`
        are :meth:`RaceCalendar.update`'s (an absent item passes them)."""
        self.calendar.update(
            session.key,
            {**values, "updated_at": now},
            defaults={**identity_fields(session), **schedule_fields(schedule)},
            must_exist=False,
            **conditions,
        )

    def get(self, pk: str) -> dict[str, Any] | None:
        """Any item of the table (the idempotency record or the session's item) as plain values."""
        return self.calendar.get_attributes(pk)
