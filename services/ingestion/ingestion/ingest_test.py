"""Session ingestion on real FastF1 data into in-process moto."""

from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import fastf1
import pyarrow as pa
import pytest

from f1common.datasets import Dataset, Source, dataset_spec
from f1common.events import (
    BadRequest,
    CalendarItem,
    CalendarStatus,
    IngestionOutcome,
    IngestionRequest,
    OutcomeStatus,
)
from f1common.layout import MANIFEST_PREFIX, ORPHAN_MARKER_PREFIX, parse_data_key
from f1common.manifest import Manifest
from f1common.names import METRICS_NAMESPACE
from f1common.sessions import SessionId
from f1common.settings import Settings
from f1common.tables import read_parquet_bytes, schema_diff, sha256
from ingestion.ingest import ClaimHeld, ingest_session, load_fastf1_session
from ingestion.landing import list_keys
from ingestion.records import COMPLETE, INPROGRESS, ClaimLost, IngestionRecords, idempotency_key

_LOADED: dict[str, Any] = {}


def cached_loader(session_id: SessionId, settings: Settings) -> Any:
    """FastF1 loads once per session per test process (loading is the slow part, ~1 s)."""
    if session_id.key not in _LOADED:
        _LOADED[session_id.key] = load_fastf1_session(session_id, settings)
    return _LOADED[session_id.key]


def ingest(aws: tuple[Any, Any], settings: Settings, payload: dict[str, Any], **kwargs: Any) -> Any:
    s3, dynamodb = aws
    kwargs.setdefault("load_session", cached_loader)
    return ingest_session(
        IngestionRequest.parse(payload), s3=s3, dynamodb_table_or_client=dynamodb, settings=settings, **kwargs
    )


def manifests(s3: Any, settings: Settings) -> list[Manifest]:
    return [
        Manifest.from_json(s3.get_object(Bucket=settings.bucket, Key=k)["Body"].read())
        for k in list_keys(s3, settings.bucket, MANIFEST_PREFIX)
    ]


def landed(s3: Any, settings: Settings, manifest: Manifest, dataset: Dataset) -> pa.Table:
    entry = next(f for f in manifest.files if f.dataset is dataset)
    return read_parquet_bytes(s3.get_object(Bucket=settings.bucket, Key=entry.key)["Body"].read())


BAHRAIN_2023 = {"season": 2023, "round": 1, "session": "R"}


def test_bahrain_2023_race_lands_every_dataset_then_the_manifest(aws: tuple[Any, Any], settings: Settings) -> None:
    s3, dynamodb = aws
    outcome = ingest(aws, settings, BAHRAIN_2023)

    assert outcome.status is OutcomeStatus.INGESTED
    assert outcome.rows == {"laps": 1056, "results": 20, "drivers": 20, "weather": 161, "race_control": 73}
    assert outcome.missing == []
    [manifest] = manifests(s3, settings)
    assert manifest.run_id == outcome.run_id
    assert manifest.source is Source.FASTF1 and manifest.source_version == f"fastf1 {fastf1.__version__}"
    assert manifest.session == SessionId.parse("2023-01-R")
    # Every landed data file is listed, with its true size and checksum.
    data_keys = list_keys(s3, settings.bucket, "dataset=")
    assert sorted(f.key for f in manifest.files) == data_keys
    for entry in manifest.files:
        body = s3.get_object(Bucket=settings.bucket, Key=entry.key)["Body"].read()
        assert (len(body), sha256(body)) == (entry.bytes, entry.sha256)
        assert read_parquet_bytes(body).num_rows == entry.rows
        assert parse_data_key(entry.key).session_id == manifest.session

    results = landed(s3, settings, manifest, Dataset.RESULTS).to_pylist()
    winner = next(r for r in results if r["position"] == 1)
    assert (winner["abbreviation"], winner["points"], winner["grid_position"]) == ("VER", 25.0, 1)
    assert winner["team_id"] == "red_bull" and winner["time_ms"] == 5_636_736  # 1:33:56.736
    drivers = landed(s3, settings, manifest, Dataset.DRIVERS).to_pylist()
    assert {d["abbreviation"] for d in drivers} >= {"VER", "PER", "ALO", "HAM"}
    assert next(d for d in drivers if d["abbreviation"] == "VER")["team_colour"] == "#3671C6"

    laps = landed(s3, settings, manifest, Dataset.LAPS)
    ver_lap2 = next(r for r in laps.to_pylist() if r["driver"] == "VER" and r["lap_number"] == 2)
    assert ver_lap2["lap_time_ms"] == 97_974 and ver_lap2["sector1_ms"] == 31_342
    assert ver_lap2["compound"] == "SOFT" and ver_lap2["position"] == 1
    # Lap starts are wall-clock UTC: the race (18:00 local, UTC+3) ran after 15:00 UTC.
    starts = [r["lap_start_time_utc"] for r in laps.to_pylist() if r["lap_start_time_utc"] is not None]
    assert len(starts) == 1056
    assert dt.datetime(2023, 3, 5, 15, 0, tzinfo=dt.timezone.utc) < min(starts)
    assert max(starts) < dt.datetime(2023, 3, 5, 17, 0, tzinfo=dt.timezone.utc)

    item = IngestionRecords(dynamodb, settings.table).get("2023-01-R")
    assert item is not None
    calendar = CalendarItem.model_validate(item)
    assert calendar.status is CalendarStatus.INGESTED and calendar.run_id == outcome.run_id
    assert calendar.rows == outcome.rows and calendar.missing == [] and calendar.ingested_at is not None
    assert calendar.event_name == "Bahrain Grand Prix"
    assert calendar.start_utc == dt.datetime(2023, 3, 5, 15, 0, tzinfo=dt.timezone.utc)
    record = IngestionRecords(dynamodb, settings.table).get(idempotency_key(SessionId.parse("2023-01-R")))
    assert record is not None and record["status"] == COMPLETE and "expires_at" not in record


def test_azerbaijan_2018_race_lands_without_weather_and_the_manifest_says_so(
    aws: tuple[Any, Any], settings: Settings
) -> None:
    s3, dynamodb = aws
    outcome = ingest(aws, settings, {"season": 2018, "round": 4, "session": "Race"})

    assert outcome.status is OutcomeStatus.INGESTED
    assert outcome.missing == ["weather"]
    assert outcome.rows["laps"] == 848 and outcome.rows["results"] == 20
    [manifest] = manifests(s3, settings)
    assert [m.dataset for m in manifest.missing] == [Dataset.WEATHER]
    assert "weather" in manifest.missing[0].reason
    assert not list_keys(s3, settings.bucket, "dataset=weather/")
    item = IngestionRecords(dynamodb, settings.table).get("2018-04-R")
    assert item is not None and item["missing"] == ["weather"]


def test_results_without_points_land_nulls_not_invented_values(aws: tuple[Any, Any], settings: Settings) -> None:
    s3, _ = aws
    outcome = ingest(aws, settings, {"season": 2023, "round": 3, "session": "R"})

    assert outcome.status is OutcomeStatus.INGESTED
    [manifest] = manifests(s3, settings)
    results = landed(s3, settings, manifest, Dataset.RESULTS)
    assert results.num_rows == 20
    assert results.column("points").null_count == 20
    assert results.column("grid_position").null_count == 20
    assert results.column("status").null_count == 20
    assert results.column("driver_number").null_count == 0


# Reference dtypes of every landed session dataset: a contract with the loader and dbt.
EXPECTED_DTYPES: dict[Dataset, dict[str, str]] = {
    Dataset.LAPS: {
        "season": "int64", "round": "int64", "session": "string", "driver_number": "string", "driver": "string",
        "team": "string", "lap_number": "int64", "lap_time_ms": "int64", "sector1_ms": "int64",
        "sector2_ms": "int64", "sector3_ms": "int64", "session_time_ms": "int64",
        "lap_start_time_utc": "timestamp[us, tz=UTC]", "speed_i1_kph": "double", "speed_i2_kph": "double",
        "speed_fl_kph": "double", "speed_st_kph": "double", "compound": "string", "tyre_life": "int64",
        "fresh_tyre": "bool", "stint": "int64", "pit_in_time_ms": "int64", "pit_out_time_ms": "int64",
        "position": "int64", "track_status": "string", "is_personal_best": "bool", "deleted": "bool",
        "deleted_reason": "string", "is_accurate": "bool", "fastf1_generated": "bool",
    },
    Dataset.RESULTS: {
        "season": "int64", "round": "int64", "session": "string", "driver_number": "string",
        "abbreviation": "string", "driver_id": "string", "full_name": "string", "team_name": "string",
        "team_id": "string", "position": "int64", "classified_position": "string", "grid_position": "int64",
        "q1_ms": "int64", "q2_ms": "int64", "q3_ms": "int64", "time_ms": "int64", "status": "string",
        "points": "double", "laps": "int64",
    },
    Dataset.DRIVERS: {
        "season": "int64", "round": "int64", "session": "string", "driver_number": "string",
        "abbreviation": "string", "driver_id": "string", "first_name": "string", "last_name": "string",
        "full_name": "string", "broadcast_name": "string", "team_name": "string", "team_id": "string",
        "team_colour": "string", "country_code": "string", "headshot_url": "string",
    },
    Dataset.WEATHER: {
        "season": "int64", "round": "int64", "session": "string", "sample_time_ms": "int64",
        "sample_time_utc": "timestamp[us, tz=UTC]", "air_temp_c": "double", "track_temp_c": "double",
        "humidity_pct": "double", "pressure_mbar": "double", "rainfall": "bool", "wind_speed_ms": "double",
        "wind_direction_deg": "int64",
    },
    Dataset.RACE_CONTROL: {
        "season": "int64", "round": "int64", "session": "string", "message_seq": "int64",
        "time_utc": "timestamp[us, tz=UTC]", "category": "string", "message": "string", "status": "string",
        "flag": "string", "scope": "string", "sector": "int64", "racing_number": "string", "lap": "int64",
    },
}  # fmt: skip


def test_landed_dtypes_match_the_contract(aws: tuple[Any, Any], settings: Settings) -> None:
    s3, _ = aws
    ingest(aws, settings, BAHRAIN_2023)
    [manifest] = manifests(s3, settings)
    assert {f.dataset for f in manifest.files} == set(EXPECTED_DTYPES)
    for dataset, expected in EXPECTED_DTYPES.items():
        schema = landed(s3, settings, manifest, dataset).schema
        assert {f.name: str(f.type) for f in schema} == expected, dataset
        assert list(schema.names) == list(expected), f"{dataset}: column order"
        assert schema_diff(schema, dataset_spec(dataset)).matches


def test_same_request_twice_lands_once(aws: tuple[Any, Any], settings: Settings) -> None:
    s3, _ = aws
    first = ingest(aws, settings, BAHRAIN_2023)
    keys = list_keys(s3, settings.bucket)
    second = ingest(aws, settings, {**BAHRAIN_2023, "attempt": 2, "reason": "retry"})

    assert first.status is OutcomeStatus.INGESTED
    assert second.status is OutcomeStatus.DUPLICATE
    assert second.run_id == first.run_id and "already ingested" in second.message
    assert list_keys(s3, settings.bucket) == keys


def test_five_concurrent_deliveries_land_once(aws: tuple[Any, Any], settings: Settings) -> None:
    s3, _ = aws
    cached_loader(SessionId.parse("2023-01-R"), settings)  # the winner's load is not what is raced here

    def deliver(_: int) -> Any:
        try:
            return ingest(aws, settings, BAHRAIN_2023)
        except (ClaimHeld, ClaimLost) as exc:  # the winner holds the claim: this delivery fails, to be retried
            return exc

    with ThreadPoolExecutor(max_workers=5) as pool:
        outcomes = list(pool.map(deliver, range(5)))

    landed = [o for o in outcomes if isinstance(o, IngestionOutcome) and o.status is OutcomeStatus.INGESTED]
    assert len(landed) == 1, outcomes
    others = [o for o in outcomes if o is not landed[0]]
    assert all(isinstance(o, ClaimHeld | ClaimLost) or o.status is OutcomeStatus.DUPLICATE for o in others), others
    assert all(o.run_id == landed[0].run_id for o in others if isinstance(o, IngestionOutcome))
    winner = landed[0]
    # retried once the winner completed, every delivery is a duplicate naming the complete run
    assert {ingest(aws, settings, BAHRAIN_2023).run_id for _ in range(2)} == {winner.run_id}
    [manifest] = manifests(s3, settings)
    assert manifest.run_id == winner.run_id
    # One run's files are published. In-process moto does not serialise conditional writes across threads,
    # so a second delivery may also claim and upload; its fenced write then fails (ClaimLost) and its files
    # are reported as orphans (to expire), never published: exactly once, by the fence.
    published = {f.key for f in manifest.files}
    data = set(list_keys(s3, settings.bucket, "dataset="))
    assert len(published) == 5 and published <= data
    orphaned: set[str] = set()
    for key in list_keys(s3, settings.bucket, ORPHAN_MARKER_PREFIX):
        orphaned.update(json.loads(s3.get_object(Bucket=settings.bucket, Key=key)["Body"].read())["files"])
    assert data - published == orphaned - published


class CrashingS3:
    """An S3 client whose n-th data upload raises, as if the Lambda died between datasets."""

    def __init__(self, s3: Any, fail_on_upload: int) -> None:
        self._s3 = s3
        self._left = fail_on_upload

    def put_object(self, **kwargs: Any) -> Any:
        self._left -= 1
        if self._left == 0:
            raise RuntimeError("simulated crash between datasets")
        return self._s3.put_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)


def test_crash_between_datasets_leaves_no_manifest_and_a_retry_recovers(
    aws: tuple[Any, Any], settings: Settings
) -> None:
    s3, dynamodb = aws
    with pytest.raises(RuntimeError, match="simulated crash"):
        ingest((CrashingS3(s3, fail_on_upload=3), dynamodb), settings, BAHRAIN_2023)

    assert list_keys(s3, settings.bucket, MANIFEST_PREFIX) == []
    orphans = list_keys(s3, settings.bucket, "dataset=")
    assert len(orphans) == 2  # laps and results landed before the crash, unlisted
    calendar = IngestionRecords(dynamodb, settings.table)
    assert calendar.get(idempotency_key(SessionId.parse("2023-01-R"))) is None  # released
    assert calendar.get("2023-01-R") is None

    retry = ingest(aws, settings, {**BAHRAIN_2023, "attempt": 2, "reason": "retry"})
    assert retry.status is OutcomeStatus.INGESTED
    [manifest] = manifests(s3, settings)
    assert manifest.run_id == retry.run_id
    assert {parse_data_key(k).run_id for k in orphans} != {retry.run_id}
    assert not {f.key for f in manifest.files} & set(orphans)
    assert len(manifest.files) == 5


def test_a_dead_run_blocks_until_its_claim_expires(aws: tuple[Any, Any], settings: Settings) -> None:
    s3, dynamodb = aws
    session = SessionId.parse("2023-01-R")
    died_at = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.timezone.utc)
    calendar = IngestionRecords(dynamodb, settings.table)
    assert calendar.claim(session, "20261101T120000Z-deadbeef", died_at, dt.timedelta(minutes=15)).acquired

    with pytest.raises(ClaimHeld, match="being ingested by run 20261101T120000Z-deadbeef"):  # not a success
        ingest(aws, settings, BAHRAIN_2023, clock=lambda: died_at + dt.timedelta(minutes=5))
    assert list_keys(s3, settings.bucket) == []

    after = ingest(aws, settings, BAHRAIN_2023, clock=lambda: died_at + dt.timedelta(minutes=16))
    assert after.status is OutcomeStatus.INGESTED and after.run_id != "20261101T120000Z-deadbeef"
    assert manifests(s3, settings)[0].run_id == after.run_id
    record = calendar.get(idempotency_key(session))
    assert record is not None and record["status"] == COMPLETE and record["run_id"] == after.run_id


def test_session_without_published_data_is_not_available(aws: tuple[Any, Any], settings: Settings) -> None:
    s3, dynamodb = aws
    # 2025 round 10 (Canada) is on the schedule, but FastF1 has no timing data for it here.
    outcome = ingest(aws, settings, {"season": 2025, "round": 10, "session": "R", "attempt": 3, "reason": "retry"})

    assert outcome.status is OutcomeStatus.NOT_AVAILABLE and outcome.attempt == 3
    assert "no lap timing data" in outcome.message
    assert list_keys(s3, settings.bucket) == []
    calendar = IngestionRecords(dynamodb, settings.table)
    item = calendar.get("2025-10-R")
    assert item is not None and item["status"] == CalendarStatus.NOT_AVAILABLE.value and item["attempt"] == 3
    assert calendar.get(idempotency_key(SessionId.parse("2025-10-R"))) is None


def test_session_in_the_future_is_not_available_without_loading(aws: tuple[Any, Any], settings: Settings) -> None:
    s3, dynamodb = aws

    def must_not_load(session_id: SessionId, settings: Settings) -> Any:
        raise AssertionError("a future session must not be loaded")

    before = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    outcome = ingest(
        aws, settings, {"season": 2026, "round": 3, "session": "R"}, clock=lambda: before, load_session=must_not_load
    )
    assert outcome.status is OutcomeStatus.NOT_AVAILABLE and "in the future" in outcome.message
    assert list_keys(s3, settings.bucket) == []
    item = IngestionRecords(dynamodb, settings.table).get("2026-03-R")
    assert item is not None and item["status"] == "NOT_AVAILABLE" and item["attempt"] == 1


@pytest.mark.parametrize(
    ("status", "attempt", "recorded"),
    [
        (CalendarStatus.SCHEDULED, 2, True),  # the attempt the scheduler made: its outcome is recorded
        (CalendarStatus.NOT_AVAILABLE, 1, True),  # an earlier attempt's outcome: this one supersedes it
        (CalendarStatus.SCHEDULED, 3, False),  # the scheduler re-drove the session as attempt 3 meanwhile
        (CalendarStatus.NOT_AVAILABLE, 3, False),  # attempt 3 answered already
        (CalendarStatus.PENDING, 2, False),  # a sync moved the session and reset it
        (CalendarStatus.CANCELLED, 2, False),  # a sync cancelled it
        (CalendarStatus.FAILED, 2, False),  # the scheduler gave up on it
        (CalendarStatus.INGESTED, 2, False),  # a complete run landed it
    ],
)
def test_a_not_available_outcome_changes_the_item_only_while_its_attempt_is_the_latest(
    aws: tuple[Any, Any], settings: Settings, status: CalendarStatus, attempt: int, recorded: bool
) -> None:
    """A late or stray delivery of attempt 2 (a schedule that outlived its claim, a redelivery) finds the
    session's item as the others left it; its NOT_AVAILABLE never rewinds their decision."""
    _, dynamodb = aws
    records = IngestionRecords(dynamodb, settings.table)
    pk, before = "2026-03-R", dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    records.calendar.update(
        pk, {"status": status, "attempt": attempt, "message": "as the others left it"}, must_exist=False
    )
    outcome = ingest(
        aws,
        settings,
        {"season": 2026, "round": 3, "session": "R", "attempt": 2, "reason": "retry"},
        clock=lambda: before,
        load_session=lambda *_: pytest.fail("a future session is not loaded"),
    )
    assert outcome.status is OutcomeStatus.NOT_AVAILABLE and outcome.attempt == 2  # the answer is the same
    item = records.get(pk)
    assert item is not None
    if recorded:
        assert (item["status"], item["attempt"]) == (CalendarStatus.NOT_AVAILABLE.value, 2)
        assert "in the future" in item["message"]
    else:
        assert (item["status"], item["attempt"], item["message"]) == (status.value, attempt, "as the others left it")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"season": 2023, "round": 99, "session": "R"}, "round"),
        ({"season": 1990, "round": 1, "session": "R"}, "season"),  # no schedule in the offline data
        ({"season": 2023, "round": 1, "session": "Sprint"}, "session"),
        ({"season": 2023, "round": 1, "session": "Warmup"}, "session"),
        ({"season": "last year", "round": 1, "session": "R"}, "season"),
        ({"round": 1, "session": "R"}, "season"),
        ({"season": 2023, "round": 1, "session": "R", "color": "red"}, "color"),
    ],
)
def test_bad_requests_name_the_field_and_write_nothing(
    aws: tuple[Any, Any], settings: Settings, payload: dict[str, Any], field: str
) -> None:
    s3, dynamodb = aws
    with pytest.raises(BadRequest, match=field):
        ingest(aws, settings, payload)
    assert list_keys(s3, settings.bucket) == []
    assert dynamodb.scan(TableName=settings.table)["Items"] == []


def test_a_dynamodb_table_resource_works_like_a_client(aws: tuple[Any, Any], settings: Settings) -> None:
    import boto3

    s3, _ = aws
    table = boto3.resource("dynamodb", region_name=settings.aws_region).Table(settings.table)
    outcome = ingest((s3, table), settings, {"season": 2018, "round": 4, "session": "R"})
    assert outcome.status is OutcomeStatus.INGESTED
    assert table.get_item(Key={"pk": "2018-04-R"})["Item"]["status"] == "INGESTED"
    assert INPROGRESS not in str(table.get_item(Key={"pk": "idempotency#2018-04-R"})["Item"])


def test_rows_and_duration_are_emitted_as_emf_metrics(
    aws: tuple[Any, Any], settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    ingest(aws, settings, {"season": 2018, "round": 4, "session": "R"})
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]

    def values(name: str) -> list[dict[str, Any]]:
        return [b for b in blobs if name in b]

    for blob in blobs:
        [directive] = blob["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == METRICS_NAMESPACE and blob["service"] == "ingestion"
    rows = {b["dataset"]: b["RowsLanded"] for b in values("RowsLanded")}
    assert rows == {"laps": [848.0], "results": [20.0], "drivers": [20.0], "race_control": [109.0]}
    [duration] = values("IngestionDuration")
    assert 0 < duration["IngestionDuration"][0] < 60
    assert duration["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "IngestionDuration", "Unit": "Seconds"}]
