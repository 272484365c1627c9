"""The DynamoDB race calendar: one item per session, keyed by the session key (see docs/CONTRACTS.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic import ValidationError

from f1common.datasets import ScheduleRow
from f1common.events import CalendarItem, CalendarStatus
from f1common.names import CALENDAR_KEY
from f1common.schedule import expected_end
from f1common.sessions import SessionId, SessionType

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()

# Fields that come from the official schedule; the rest is the scheduler's and ingestion's bookkeeping.
SCHEDULE_FIELDS = ("event_name", "country", "location", "session_name", "start_utc", "end_utc")


class ConditionFailed(Exception):
    """A conditional write lost against a concurrent writer."""


@dataclass(frozen=True)
class InvalidItem:
    """A calendar item that could not be read as a :class:`CalendarItem`; reported and skipped."""

    pk: str
    error: str


@dataclass
class CalendarScan:
    items: list[CalendarItem] = field(default_factory=list)
    invalid: list[InvalidItem] = field(default_factory=list)

    def by_key(self) -> dict[str, CalendarItem]:
        return {item.pk: item for item in self.items}


def utc_iso(value: dt.datetime) -> str:
    """ISO-8601 UTC string, the calendar's timestamp format (`2025-03-16T06:00:00Z`)."""
    if value.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no time zone; calendar timestamps must be UTC")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_session_key(pk: str) -> bool:
    try:
        SessionId.parse(pk)
    except ValueError:
        return False
    return True


def to_attributes(values: Mapping[str, Any]) -> dict[str, Any]:
    """Plain values to DynamoDB attribute values; datetimes become ISO-8601 UTC strings."""
    return {name: _SERIALIZER.serialize(_plain(value)) for name, value in values.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return utc_iso(value)
    if isinstance(value, SessionType | CalendarStatus):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def item_to_attributes(item: CalendarItem) -> dict[str, Any]:
    values = item.model_dump(exclude_none=True)
    return to_attributes(values)


def item_from_attributes(raw: Mapping[str, Any]) -> CalendarItem:
    """Reads a DynamoDB item; raises ValueError naming the item and its bad fields."""
    values = {name: _DESERIALIZER.deserialize(value) for name, value in raw.items()}
    pk = str(values.get(CALENDAR_KEY, "?"))
    try:
        item = CalendarItem.model_validate(values)
        if item.session_id.key != item.pk:
            raise ValueError(f"pk does not match season/round/session ({item.session_id.key})")
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(item)'}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"calendar item {pk}: {problems}") from None
    except ValueError as exc:
        raise ValueError(f"calendar item {pk}: {exc}") from None
    return item


def item_from_row(row: ScheduleRow, now: dt.datetime) -> CalendarItem:
    """A new PENDING calendar item for a schedule row; the row must have a start time."""
    end = expected_end(row)
    if row.session_start_utc is None or end is None:
        raise ValueError(f"{row.season}-{row.round:02d}-{row.session}: no scheduled start")
    sid = SessionId(season=row.season, round=row.round, session=SessionType.parse(row.session))
    return CalendarItem(
        pk=sid.key,
        season=row.season,
        round=row.round,
        session=sid.session,
        event_name=row.event_name,
        country=row.country,
        location=row.location,
        session_name=row.session_name,
        start_utc=row.session_start_utc,
        end_utc=end,
        status=CalendarStatus.PENDING,
        updated_at=now,
    )


class CalendarTable:
    """Reads and conditionally writes calendar items with a low-level DynamoDB client."""

    def __init__(self, client: Any, table_name: str) -> None:
        self.client = client
        self.table_name = table_name

    def scan(
        self,
        season: int | None = None,
        statuses: Iterable[CalendarStatus] | None = None,
        pending_ended_by: dt.datetime | None = None,
    ) -> CalendarScan:
        """Session items; other items (idempotency records) are skipped. Optional filters: `season`,
        `statuses`, and PENDING items only if they end by `pending_ended_by`. Items lacking the filtered
        attributes are always read, so that they are reported as invalid."""
        filters: list[str] = []
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        if season is not None:
            filters.append("begins_with(#pk, :season)")
            names["#pk"] = CALENDAR_KEY
            values[":season"] = {"S": f"{season:04d}-"}
        if statuses is not None:
            wanted = {f":st{i}": status for i, status in enumerate(statuses)}
            values.update({name: {"S": status.value} for name, status in wanted.items()})
            names["#status"] = "status"
            filters.append(f"(attribute_not_exists(#status) OR #status IN ({', '.join(wanted)}))")
        if pending_ended_by is not None:
            names.update({"#status": "status", "#end": "end_utc"})
            values.update(
                {":pending": {"S": CalendarStatus.PENDING.value}, ":ended_by": {"S": utc_iso(pending_ended_by)}}
            )
            filters.append("(#status <> :pending OR attribute_not_exists(#end) OR #end <= :ended_by)")
        result = CalendarScan()
        for raw in self._scan_pages(filters, names, values):
            pk = raw.get(CALENDAR_KEY, {}).get("S", "")
            if not is_session_key(pk):
                continue
            try:
                result.items.append(item_from_attributes(raw))
            except ValueError as exc:
                result.invalid.append(InvalidItem(pk=pk, error=str(exc)))
        result.items.sort(key=lambda i: (i.start_utc, i.pk))
        return result

    def earliest_pending_end(self, after: dt.datetime) -> dt.datetime | None:
        """The earliest expected end of a PENDING session ending after `after` (reads two attributes)."""
        names = {"#pk": CALENDAR_KEY, "#status": "status", "#end": "end_utc"}
        values = {":pending": {"S": CalendarStatus.PENDING.value}, ":after": {"S": utc_iso(after)}}
        ends = [
            dt.datetime.fromisoformat(raw["end_utc"]["S"])
            for raw in self._scan_pages(["#status = :pending AND #end > :after"], names, values, "#pk, #end")
            if is_session_key(raw.get(CALENDAR_KEY, {}).get("S", ""))
        ]
        return min(ends, default=None)

    def _scan_pages(
        self, filters: list[str], names: dict[str, str], values: dict[str, Any], projection: str | None = None
    ) -> Iterable[dict[str, Any]]:
        kwargs: dict[str, Any] = {"TableName": self.table_name, "ConsistentRead": True}
        if filters:
            kwargs.update(
                FilterExpression=" AND ".join(filters), ExpressionAttributeNames=names, ExpressionAttributeValues=values
            )
        if projection:
            kwargs["ProjectionExpression"] = projection
        while True:
            page = self.client.scan(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get(self, pk: str) -> CalendarItem | None:
        raw = self.client.get_item(TableName=self.table_name, Key=_key(pk), ConsistentRead=True).get("Item")
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

    def update(self, pk: str, values: Mapping[str, Any], expect: Mapping[str, Any], remove: Iterable[str] = ()) -> None:
        """Sets `values` (None removes) on an existing item when each `expect` attribute still has its value.

        An expected value of None means the attribute must be absent. Raises :class:`ConditionFailed`.
        """
        names: dict[str, str] = {"#pk": CALENDAR_KEY}
        attr_values: dict[str, Any] = {}
        sets: list[str] = []
        removes: list[str] = []
        for i, (name, value) in enumerate(values.items()):
            names[f"#s{i}"] = name
            if value is None:
                removes.append(f"#s{i}")
            else:
                sets.append(f"#s{i} = :s{i}")
                attr_values[f":s{i}"] = _SERIALIZER.serialize(_plain(value))
        for j, name in enumerate(remove):
            names[f"#r{j}"] = name
            removes.append(f"#r{j}")
        conditions = ["attribute_exists(#pk)"]
        for k, (name, value) in enumerate(expect.items()):
            names[f"#c{k}"] = name
            if value is None:
                conditions.append(f"attribute_not_exists(#c{k})")
            elif name == "attempt" and value == 0:
                conditions.append(f"(attribute_not_exists(#c{k}) OR #c{k} = :c{k})")
                attr_values[f":c{k}"] = _SERIALIZER.serialize(0)
            else:
                conditions.append(f"#c{k} = :c{k}")
                attr_values[f":c{k}"] = _SERIALIZER.serialize(_plain(value))
        expression = ""
        if sets:
            expression += "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": _key(pk),
            "UpdateExpression": expression.strip(),
            "ConditionExpression": " AND ".join(conditions),
            "ExpressionAttributeNames": names,
        }
        if attr_values:
            kwargs["ExpressionAttributeValues"] = attr_values
        try:
            self.client.update_item(**kwargs)
        except ClientError as exc:
            _raise_condition(exc)


def _key(pk: str) -> dict[str, Any]:
    return {CALENDAR_KEY: {"S": pk}}


def _raise_condition(exc: ClientError) -> None:
    if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
        raise ConditionFailed(str(exc)) from None
    raise exc


def next_session(items: Iterable[CalendarItem], after: dt.datetime) -> CalendarItem | None:
    """The first session starting strictly after `after` (cancelled sessions excluded)."""
    upcoming = [i for i in items if i.start_utc > after and i.status is not CalendarStatus.CANCELLED]
    return min(upcoming, key=lambda i: (i.start_utc, i.pk), default=None)
