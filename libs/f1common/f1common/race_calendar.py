"""The DynamoDB race calendar record: its codec and its reads and conditional writes (see docs/CONTRACTS.md).

One item per session, hash key ``pk`` = the session key (``2023-01-R``), attributes as
:class:`f1common.events.CalendarItem` with timestamps as ISO-8601 UTC strings (:data:`f1common.clock.ISO_FORMAT`).
Other items share the table (the ingestion service's ``idempotency#...`` records): readers skip every item
whose ``pk`` is not a session key.

The services keep only their decisions: the scheduler decides transitions, the ingestion service its
claims and outcomes, the loader the export. Everything that knows how an item is stored is here:

- :func:`to_attributes` / :func:`from_attributes`: plain values <-> DynamoDB attribute values;
- :func:`item_to_attributes` / :func:`decode_item`: :class:`CalendarItem` <-> an item; a bad item decodes to an
  :class:`InvalidItem` naming its fields (reported by the caller, never raised at it);
- :class:`RaceCalendar`: scans (paginated, filtered, bad items reported), ``get``, ``put_new`` and
  :meth:`RaceCalendar.update`, a conditional update on any fields (``expect``) that raises
  :class:`ConditionFailed` when a concurrent writer won.

Optimistic concurrency: every :meth:`RaceCalendar.update` adds 1 to the item's :data:`VERSION` attribute, so
a writer whose decision read the item expects the version it read (``expect={"version": item.version}``)
and loses against any write in between, whatever field that write changed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NoReturn

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic import ValidationError

from f1common.clients import new_client
from f1common.clock import utc_iso
from f1common.datasets import ScheduleRow
from f1common.errors import describe_validation_error
from f1common.events import CalendarItem, CalendarStatus
from f1common.names import CALENDAR_KEY
from f1common.schedule import expected_end
from f1common.sessions import SessionId, SessionType

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()

VERSION = "version"  # the write counter of an item (optimistic concurrency)

# Fields that come from the official schedule; the rest is the scheduler's and ingestion's bookkeeping.
SCHEDULE_FIELDS = ("event_name", "country", "location", "session_name", "start_utc", "end_utc")

# Integer fields whose absence reads as their CalendarItem default 0 (`attempt`): expecting 0 accepts absent.
_ZERO_DEFAULT_FIELDS = frozenset(
    name for name, info in CalendarItem.model_fields.items() if info.annotation is int and info.default == 0
)


class ConditionFailed(Exception):
    """A conditional write lost against a concurrent writer."""


@dataclass(frozen=True)
class InvalidItem:
    """A session item that could not be read as a :class:`CalendarItem`; reported and skipped."""

    pk: str
    error: str


@dataclass
class CalendarScan:
    items: list[CalendarItem] = field(default_factory=list)
    invalid: list[InvalidItem] = field(default_factory=list)
    skipped: int = 0  # items that are not sessions (idempotency records, ...)

    def by_key(self) -> dict[str, CalendarItem]:
        return {item.pk: item for item in self.items}


# --- codec -----------------------------------------------------------------------------------------


def is_session_key(pk: str) -> bool:
    try:
        SessionId.parse(pk)
    except ValueError:
        return False
    return True


def plain(value: Any) -> Any:
    """A value as stored: datetimes as ISO-8601 UTC strings, enums as their values (recursively)."""
    if isinstance(value, dt.datetime):
        return utc_iso(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def attribute(value: Any) -> dict[str, Any]:
    """One DynamoDB attribute value (``{"S": ...}``) of a plain or typed value."""
    return dict(_SERIALIZER.serialize(plain(value)))


def to_attributes(values: Mapping[str, Any]) -> dict[str, Any]:
    """Plain values to DynamoDB attribute values; datetimes become ISO-8601 UTC strings."""
    return {name: attribute(value) for name, value in values.items()}


def from_attributes(raw: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB attribute values to plain Python values (numbers are Decimals)."""
    return {name: _DESERIALIZER.deserialize(value) for name, value in raw.items()}


def key(pk: str) -> dict[str, Any]:
    return {CALENDAR_KEY: {"S": pk}}


def pk_of(raw: Mapping[str, Any]) -> str:
    return str(raw.get(CALENDAR_KEY, {}).get("S", ""))


def item_to_attributes(item: CalendarItem) -> dict[str, Any]:
    return to_attributes(item.model_dump(exclude_none=True))


def decode_item(raw: Mapping[str, Any]) -> CalendarItem | InvalidItem:
    """Reads a DynamoDB session item; a bad one gives an :class:`InvalidItem` naming the item and its fields."""
    values = from_attributes(raw)
    pk = str(values.get(CALENDAR_KEY, "?"))
    try:
        item = CalendarItem.model_validate(values)
    except ValidationError as exc:
        return InvalidItem(pk=pk, error=f"calendar item {pk}: {describe_validation_error(exc, '(item)')}")
    if item.session_id.key != item.pk:
        return InvalidItem(
            pk=pk, error=f"calendar item {pk}: pk does not match season/round/session " f"({item.session_id.key})"
        )
    return item


def item_from_attributes(raw: Mapping[str, Any]) -> CalendarItem:
    """Reads a DynamoDB session item; raises ValueError naming the item and its bad fields."""
    decoded = decode_item(raw)
    if isinstance(decoded, InvalidItem):
        raise ValueError(decoded.error)
    return decoded


def identity_fields(session: SessionId) -> dict[str, Any]:
    """The attributes that identify a session item besides its key."""
    return {"season": session.season, "round": session.round, "session": session.session}


def schedule_fields(row: ScheduleRow) -> dict[str, Any]:
    """The :data:`SCHEDULE_FIELDS` of a schedule row (None where the schedule does not know them)."""
    return {
        "event_name": row.event_name,
        "country": row.country,
        "location": row.location,
        "session_name": row.session_name,
        "start_utc": row.session_start_utc,
        "end_utc": expected_end(row),
    }


def item_from_row(row: ScheduleRow, now: dt.datetime) -> CalendarItem:
    """A new PENDING calendar item for a schedule row; the row must have a start time."""
    label = f"{row.season}-{row.round:02d}-{row.session[:8]}"
    if row.session_start_utc is None:
        raise ValueError(f"{label}: no scheduled start")
    if row.session_start_utc.utcoffset() is None:
        raise ValueError(f"{label}: scheduled start {row.session_start_utc.isoformat()} has no time zone")
    sid = SessionId(season=row.season, round=row.round, session=SessionType.parse(row.session))
    try:
        return CalendarItem(
            pk=sid.key, **identity_fields(sid), **schedule_fields(row), status=CalendarStatus.PENDING, updated_at=now
        )
    except ValidationError as exc:
        raise ValueError(f"{label}: {describe_validation_error(exc, '(row)')}") from None


def next_session(items: Iterable[CalendarItem], after: dt.datetime) -> CalendarItem | None:
    """The first session starting strictly after `after` (cancelled sessions excluded)."""
    upcoming = [i for i in items if i.start_utc > after and i.status is not CalendarStatus.CANCELLED]
    return min(upcoming, key=lambda i: (i.start_utc, i.pk), default=None)


def is_condition_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def low_level_client(client_or_table: Any) -> tuple[Any, str | None]:
    """(client, table name) of a low-level DynamoDB client, or of a boto3 ``Table`` resource.

    A resource's own client re-serialises typed values: a plain client of the same endpoint is made instead.
    """
    if hasattr(client_or_table, "table_name") and hasattr(client_or_table, "meta"):
        meta = client_or_table.meta.client.meta
        client = new_client("dynamodb", meta.region_name, meta.endpoint_url)
        return client, str(client_or_table.table_name)
    return client_or_table, None


# --- the table -------------------------------------------------------------------------------------


class RaceCalendar:
    """Reads and conditionally writes calendar items with a low-level DynamoDB client (or a Table resource)."""

    def __init__(self, client: Any, table_name: str | None = None) -> None:
        self.client, resource_table = low_level_client(client)
        name = table_name or resource_table
        if name is None:
            raise ValueError("table_name is required with a DynamoDB client")
        self.table_name = name

    def scan(
        self,
        season: int | None = None,
        statuses: Iterable[CalendarStatus] | None = None,
        pending_ended_by: dt.datetime | None = None,
    ) -> CalendarScan:
        """Session items, ordered by start; other items are counted as skipped, bad ones reported as invalid.

        Optional filters: `season`, `statuses`, and PENDING items only if they end by `pending_ended_by`.
        Items lacking the filtered attributes are always read, so that they are reported as invalid.
        """
        filters: list[str] = []
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        if season is not None:
            filters.append("begins_with(#pk, :season)")
            names["#pk"] = CALENDAR_KEY
            values[":season"] = {"S": f"{season:04d}-"}
        if statuses is not None:
            wanted = {f":st{i}": status for i, status in enumerate(statuses)}
            values.update({name: attribute(status) for name, status in wanted.items()})
            names["#status"] = "status"
            filters.append(f"(attribute_not_exists(#status) OR #status IN ({', '.join(wanted)}))")
        if pending_ended_by is not None:
            names.update({"#status": "status", "#end": "end_utc"})
            values.update({":pending": attribute(CalendarStatus.PENDING), ":ended_by": attribute(pending_ended_by)})
            filters.append("(#status <> :pending OR attribute_not_exists(#end) OR #end <= :ended_by)")
        result = CalendarScan()
        for raw in self.scan_raw(filters, names, values):
            if not is_session_key(pk_of(raw)):
                result.skipped += 1
                continue
            decoded = decode_item(raw)
            if isinstance(decoded, InvalidItem):
                result.invalid.append(InvalidItem(pk=pk_of(raw), error=decoded.error))
            else:
                result.items.append(decoded)
        result.items.sort(key=lambda i: (i.start_utc, i.pk))
        return result

    def earliest_pending_end(self, after: dt.datetime) -> dt.datetime | None:
        """The earliest expected end of a PENDING session ending after `after` (reads two attributes)."""
        names = {"#pk": CALENDAR_KEY, "#status": "status", "#end": "end_utc"}
        values = {":pending": attribute(CalendarStatus.PENDING), ":after": attribute(after)}
        ends = [
            dt.datetime.fromisoformat(raw["end_utc"]["S"])
            for raw in self.scan_raw(["#status = :pending AND #end > :after"], names, values, "#pk, #end")
            if is_session_key(pk_of(raw))
        ]
        return min(ends, default=None)

    def scan_raw(
        self,
        filters: Iterable[str] = (),
        names: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
        projection: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every item (attribute-value form) matching all `filters`, page by page (consistent reads)."""
        filters = list(filters)
        kwargs: dict[str, Any] = {"TableName": self.table_name, "ConsistentRead": True}
        if filters:
            kwargs.update(FilterExpression=" AND ".join(filters), ExpressionAttributeNames=dict(names or {}))
            if values:
                kwargs["ExpressionAttributeValues"] = dict(values)
        if projection:
            kwargs["ProjectionExpression"] = projection
        while True:
            page = self.client.scan(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get_attributes(self, pk: str) -> dict[str, Any] | None:
        """Any item of the table (session or not) as plain values, or None."""
        raw = self.client.get_item(TableName=self.table_name, Key=key(pk), ConsistentRead=True).get("Item")
        return None if raw is None else from_attributes(raw)

    def get(self, pk: str) -> CalendarItem | None:
        raw = self.client.get_item(TableName=self.table_name, Key=key(pk), ConsistentRead=True).get("Item")
        return item_from_attributes(raw) if raw else None

    def put_new(self, item: CalendarItem) -> None:
        """Creates the item; raises :class:`ConditionFailed` when it already exists."""
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=item_to_attributes(item),
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": CALENDAR_KEY},
            )
        except ClientError as exc:
            _raise_condition(exc)

    def update(
        self,
        pk: str,
        values: Mapping[str, Any],
        expect: Mapping[str, Any] | None = None,
        remove: Iterable[str] = (),
        *,
        defaults: Mapping[str, Any] | None = None,
        must_exist: bool = True,
        unless: Mapping[str, Any] | None = None,
        one_of: Mapping[str, Collection[Any]] | None = None,
        at_most: Mapping[str, int] | None = None,
    ) -> int | None:
        """Sets `values` (None removes) on the item when each `expect` attribute still has its value; adds 1 to
        its :data:`VERSION` and returns the new version.

        - An expected value of None means the attribute must be absent; expecting 0 of an integer field whose
          default is 0 (``attempt``, ``version``) also accepts its absence. Any field can be expected.
        - `unless`: the write fails when an attribute has the given value (absent passes).
        - `one_of`: the write fails when an attribute has none of the given values (absent passes).
        - `at_most`: the write fails when a number attribute is above the given value (absent passes).
        - `defaults` are set only where the item has no value yet (``if_not_exists``).
        - With ``must_exist=False`` the update creates a missing item (an upsert); else a missing item fails.

        Raises :class:`ConditionFailed` when the condition does not hold.
        """
        if VERSION in values or VERSION in (defaults or {}):
            raise ValueError(f"{VERSION} is counted by the calendar itself; expect it, never set it")
        names: dict[str, str] = {}
        attr_values: dict[str, Any] = {}
        sets: list[str] = []
        removes: list[str] = []
        for i, (name, value) in enumerate(values.items()):
            names[f"#s{i}"] = name
            if value is None:
                removes.append(f"#s{i}")
            else:
                sets.append(f"#s{i} = :s{i}")
                attr_values[f":s{i}"] = attribute(value)
        for i, (name, value) in enumerate((defaults or {}).items()):
            if value is None:
                continue
            names[f"#d{i}"] = name
            sets.append(f"#d{i} = if_not_exists(#d{i}, :d{i})")
            attr_values[f":d{i}"] = attribute(value)
        for j, name in enumerate(remove):
            names[f"#r{j}"] = name
            removes.append(f"#r{j}")
        names["#ver"] = VERSION
        attr_values[":one"] = {"N": "1"}
        conditions = []
        if must_exist:
            names["#pk"] = CALENDAR_KEY
            conditions.append("attribute_exists(#pk)")
        for k, (name, value) in enumerate((expect or {}).items()):
            names[f"#c{k}"] = name
            if value is None:
                conditions.append(f"attribute_not_exists(#c{k})")
                continue
            attr_values[f":c{k}"] = attribute(value)
            if name in _ZERO_DEFAULT_FIELDS and value == 0:
                conditions.append(f"(attribute_not_exists(#c{k}) OR #c{k} = :c{k})")
            else:
                conditions.append(f"#c{k} = :c{k}")
        for k, (name, value) in enumerate((unless or {}).items()):
            names[f"#u{k}"] = name
            attr_values[f":u{k}"] = attribute(value)
            conditions.append(f"(attribute_not_exists(#u{k}) OR #u{k} <> :u{k})")
        for k, (name, allowed) in enumerate((one_of or {}).items()):
            names[f"#o{k}"] = name
            placeholders = []
            for j, value in enumerate(allowed):
                attr_values[f":o{k}_{j}"] = attribute(value)
                placeholders.append(f":o{k}_{j}")
            if not placeholders:
                raise ValueError(f"one_of {name!r}: no value allowed")
            conditions.append(f"(attribute_not_exists(#o{k}) OR #o{k} IN ({', '.join(placeholders)}))")
        for k, (name, bound) in enumerate((at_most or {}).items()):
            names[f"#m{k}"] = name
            attr_values[f":m{k}"] = attribute(bound)
            conditions.append(f"(attribute_not_exists(#m{k}) OR #m{k} <= :m{k})")
        expression = ""
        if sets:
            expression += "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        expression += " ADD #ver :one"
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": key(pk),
            "UpdateExpression": expression.strip(),
            "ExpressionAttributeNames": names,
        }
        if conditions:
            kwargs["ConditionExpression"] = " AND ".join(conditions)
        kwargs["ExpressionAttributeValues"] = attr_values
        try:
            response = self.client.update_item(**kwargs, ReturnValues="UPDATED_NEW")
        except ClientError as exc:
            _raise_condition(exc)
        version = response.get("Attributes", {}).get(VERSION, {}).get("N")
        return int(version) if version is not None else None


def _raise_condition(exc: ClientError) -> NoReturn:
    if is_condition_failure(exc):
        raise ConditionFailed(str(exc)) from None
    raise exc
