"""The race-calendar record on moto's DynamoDB: codec, scans that report bad items, conditional writes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from f1common.events import CalendarItem, CalendarStatus
from f1common.names import CALENDAR_KEY
from f1common.race_calendar import (
    ConditionFailed,
    InvalidItem,
    RaceCalendar,
    decode_item,
    item_to_attributes,
    to_attributes,
)
from f1common.sessions import SessionType
from f1common.testing import START, calendar_item

TABLE = "gpi-test-race-calendar"


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ENDPOINT_URL", "GPI_AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        made = boto3.client("dynamodb", region_name="eu-west-1")
        made.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": CALENDAR_KEY, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": CALENDAR_KEY, "AttributeType": "S"}],
        )
        yield made


def test_an_item_round_trips_with_utc_iso_timestamps_and_enum_values() -> None:
    item = calendar_item(
        6,
        SessionType.RACE,
        CalendarStatus.INGESTED,
        run_id="r1",
        rows={"laps": 1200},
        ingested_at=START + dt.timedelta(hours=3),
    )
    raw = item_to_attributes(item)
    assert raw["start_utc"] == {"S": "2025-05-04T20:00:00Z"}
    assert raw["status"] == {"S": "INGESTED"} and raw["session"] == {"S": "R"}
    assert "next_attempt_utc" not in raw  # None is not stored
    assert decode_item(raw) == item


def test_a_bad_item_is_reported_with_its_fields_not_raised() -> None:
    bad = decode_item({CALENDAR_KEY: {"S": "2025-07-R"}, "season": {"N": "2025"}})
    assert isinstance(bad, InvalidItem) and bad.pk == "2025-07-R"
    assert bad.error.startswith("calendar item 2025-07-R: ") and "event_name" in bad.error
    moved = item_to_attributes(calendar_item(6, SessionType.RACE, CalendarStatus.PENDING)) | {"pk": {"S": "2025-06-Q"}}
    assert "pk does not match" in decode_item(moved).error  # type: ignore[union-attr]


def test_scan_reports_bad_items_and_skips_other_records(client: Any) -> None:
    calendar = RaceCalendar(client, TABLE)
    for item in (
        calendar_item(6, SessionType.RACE, CalendarStatus.PENDING),
        calendar_item(6, SessionType.QUALIFYING, CalendarStatus.FAILED),
    ):
        calendar.put_new(item)
    client.put_item(TableName=TABLE, Item={CALENDAR_KEY: {"S": "idempotency#2025-06-R"}})
    client.put_item(TableName=TABLE, Item={CALENDAR_KEY: {"S": "2025-07-R"}, "season": {"N": "2025"}})
    scan = calendar.scan()
    assert [i.pk for i in scan.items] == ["2025-06-Q", "2025-06-R"] and scan.skipped == 1
    assert [bad.pk for bad in scan.invalid] == ["2025-07-R"]
    assert [i.pk for i in calendar.scan(statuses=[CalendarStatus.FAILED]).items] == ["2025-06-Q"]


def test_conditional_update_on_any_field(client: Any) -> None:
    calendar = RaceCalendar(client, TABLE)
    item = calendar_item(6, SessionType.RACE, CalendarStatus.PENDING)
    calendar.put_new(item)
    with pytest.raises(ConditionFailed):
        calendar.put_new(item)
    # attempt is absent (default 0): expecting 0 accepts the absence
    # every write adds 1 to the version: a writer expecting the version it read loses to any write in between
    assert (
        calendar.update(
            item.pk,
            {"status": CalendarStatus.SCHEDULED},
            expect={"status": CalendarStatus.PENDING, "attempt": 0, "version": 0},
        )
        == 1
    )
    with pytest.raises(ConditionFailed):  # a concurrent writer moved the version on
        calendar.update(item.pk, {"status": CalendarStatus.FAILED}, expect={"version": 0})
    assert (
        calendar.update(item.pk, {"status": CalendarStatus.FAILED, "schedule_name": None}, expect={"version": 1}) == 2
    )
    with pytest.raises(ConditionFailed):  # `unless`: refused while the attribute has that value
        calendar.update(item.pk, {"message": "x"}, unless={"status": CalendarStatus.FAILED})
    stored = calendar.get(item.pk)
    assert stored is not None and stored.status is CalendarStatus.FAILED and stored.version == 2
    with pytest.raises(ValueError, match="version"):  # the version is the calendar's, never set by a caller
        calendar.update(item.pk, {"version": 7})
    with pytest.raises(ConditionFailed):  # must exist
        calendar.update("2025-09-R", {"status": CalendarStatus.FAILED})


def test_conditions_on_the_values_a_field_may_have(client: Any) -> None:
    """`one_of` (the field has one of the values) and `at_most` (a number not above the bound); absent passes."""
    calendar = RaceCalendar(client, TABLE)
    item = calendar_item(6, SessionType.RACE, CalendarStatus.FAILED, attempt=3)
    calendar.put_new(item)
    with pytest.raises(ConditionFailed):
        calendar.update(
            item.pk, {"message": "x"}, one_of={"status": (CalendarStatus.SCHEDULED, CalendarStatus.PENDING)}
        )
    with pytest.raises(ConditionFailed):
        calendar.update(item.pk, {"message": "x"}, at_most={"attempt": 2})
    assert calendar.update(item.pk, {"attempt": 2}, one_of={"status": [CalendarStatus.FAILED]}, at_most={"attempt": 3})
    assert calendar.update(item.pk, {"message": "y"}, one_of={"next_attempt_utc": ["x"]}, at_most={"rows_total": 0})
    stored = calendar.get(item.pk)
    assert stored is not None and (stored.attempt, stored.message, stored.version) == (2, "y", 2)
    with pytest.raises(ValueError, match="no value"):
        calendar.update(item.pk, {"message": "z"}, one_of={"status": []})


def test_upsert_sets_defaults_only_where_absent(client: Any) -> None:
    calendar = RaceCalendar(client, TABLE)
    defaults = {
        "season": 2025,
        "round": 8,
        "session": SessionType.RACE,
        "event_name": "Monaco Grand Prix",
        "session_name": "Race",
        "start_utc": START,
        "end_utc": START + dt.timedelta(hours=2),
        "country": None,
    }
    calendar.update(
        "2025-08-R", {"status": CalendarStatus.NOT_AVAILABLE, "attempt": 1}, defaults=defaults, must_exist=False
    )
    calendar.update(
        "2025-08-R",
        {"status": CalendarStatus.INGESTED},
        defaults={**defaults, "event_name": "renamed"},
        must_exist=False,
    )
    stored = calendar.get("2025-08-R")
    assert isinstance(stored, CalendarItem)
    assert (stored.status, stored.attempt, stored.event_name) == (CalendarStatus.INGESTED, 1, "Monaco Grand Prix")
    assert calendar.get_attributes("2025-08-R") == {
        **{k: v for k, v in defaults.items() if v is not None},
        "pk": "2025-08-R",
        "status": "INGESTED",
        "attempt": 1,
        "version": 2,
        "session": "R",
        "start_utc": "2025-05-04T20:00:00Z",
        "end_utc": "2025-05-04T22:00:00Z",
    }
    assert to_attributes({"when": START}) == {"when": {"S": "2025-05-04T20:00:00Z"}}
