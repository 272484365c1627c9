import datetime as dt

import pytest

from f1common.datasets import Dataset, Source
from f1common.layout import (
    data_key,
    is_manifest_key,
    manifest_key,
    new_run_id,
    parse_data_key,
    parse_manifest_key,
)
from f1common.manifest import Manifest, ManifestFile, MissingDataset
from f1common.sessions import SessionId, SessionType

RUN = "20231126T013000Z-1a2b3c4d"
BAHRAIN = SessionId(season=2023, round=1, session=SessionType.RACE)


def test_session_partitioned_key_round_trip() -> None:
    key = data_key(Dataset.LAPS, RUN, session=BAHRAIN)
    assert key == f"dataset=laps/season=2023/round=01/session=R/laps-{RUN}.parquet"
    parsed = parse_data_key(key)
    assert parsed.dataset is Dataset.LAPS and parsed.run_id == RUN
    assert parsed.session_id == BAHRAIN
    assert parsed.key == key
    assert parsed.manifest_key == f"manifests/{RUN}.json"


@pytest.mark.parametrize("dataset", list(Dataset), ids=lambda d: d.value)
def test_every_dataset_key_round_trips(dataset: Dataset) -> None:
    session = SessionId(season=2024, round=5, session=SessionType.SPRINT_QUALIFYING)
    key = data_key(dataset, RUN, session=session, season=2024)
    assert parse_data_key(key).key == key


def test_season_and_unpartitioned_keys() -> None:
    assert data_key("schedule", RUN, season=2025) == f"dataset=schedule/season=2025/schedule-{RUN}.parquet"
    assert parse_data_key(data_key("schedule", RUN, season=2025)).season == 2025
    key = data_key(Dataset.ERGAST_RESULTS, RUN)
    assert key == f"dataset=ergast_results/ergast_results-{RUN}.parquet"
    assert parse_data_key(key).session_id is None


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("dataset=laps/season=2023/laps-20231126T013000Z-1a2b3c4d.parquet", "partitioned by session"),
        ("dataset=laps/season=2023/round=01/session=R/weather-20231126T013000Z-1a2b3c4d.parquet", "does not match"),
        ("dataset=laps/season=2023/round=01/session=R/laps.parquet", "not a landing-zone data key"),
        ("dataset=tyres/tyres-20231126T013000Z-1a2b3c4d.parquet", "unknown dataset 'tyres'"),
        ("dataset=laps/season=2023/round=99/session=R/laps-20231126T013000Z-1a2b3c4d.parquet", "round"),
        ("dataset=laps/season=2023/round=01/session=XX/laps-20231126T013000Z-1a2b3c4d.parquet", "unknown session"),
    ],
)
def test_bad_keys_are_rejected_with_reason(key: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_data_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "dataset=ergast_results/ergast_results-20231126T013000Z-1a2b3c4d.parquet\n",  # a trailing newline
        "dataset=laps/season=٢٠٢٣/round=01/session=R/laps-20231126T013000Z-1a2b3c4d.parquet",  # Arabic-Indic digits
        "manifests/20231126T013000Z-1a2b3c4d.json\n",
        "manifests/٢٠٢٣1126T013000Z-1a2b3c4d.json",
    ],
)
def test_keys_match_whole_and_in_ascii_digits_only(key: str) -> None:
    parse = parse_manifest_key if key.startswith("manifests/") else parse_data_key
    with pytest.raises(ValueError, match="not a"):
        parse(key)
    assert not is_manifest_key(key)
    with pytest.raises(ValueError):
        manifest_key("20231126T013000Z-1a2b3c4d\n")


def test_a_refused_key_is_quoted_bounded() -> None:
    with pytest.raises(ValueError) as caught:
        parse_data_key("dataset=" + "x" * 100_000)
    assert len(str(caught.value)) < 200 and "(100008 chars)" in str(caught.value)


def test_build_requires_the_partition_columns() -> None:
    with pytest.raises(ValueError, match="pass session="):
        data_key(Dataset.LAPS, RUN)
    with pytest.raises(ValueError, match="pass season="):
        data_key(Dataset.SCHEDULE, RUN)
    with pytest.raises(ValueError, match="invalid run id"):
        data_key(Dataset.LAPS, "run1", session=BAHRAIN)


def test_run_ids_are_unique_and_time_sortable() -> None:
    t = dt.datetime(2023, 3, 5, 17, 0, tzinfo=dt.timezone.utc)
    ids = {new_run_id(t) for _ in range(100)}
    assert len(ids) == 100
    assert all(i.startswith("20230305T170000Z-") for i in ids)
    assert new_run_id(t) < new_run_id(t + dt.timedelta(seconds=1))


def test_manifest_key_and_model_round_trip() -> None:
    key = manifest_key(RUN)
    assert is_manifest_key(key) and parse_manifest_key(key) == RUN
    assert not is_manifest_key(data_key(Dataset.LAPS, RUN, session=BAHRAIN))
    manifest = Manifest(
        run_id=RUN,
        source=Source.FASTF1,
        session=BAHRAIN,
        created_at=dt.datetime(2023, 3, 5, 17, 0, tzinfo=dt.timezone.utc),
        producer="ingestion",
        source_version="3.9.0",
        files=[
            ManifestFile(
                dataset=Dataset.LAPS,
                key=data_key(Dataset.LAPS, RUN, session=BAHRAIN),
                rows=1056,
                bytes=10,
                sha256="0" * 64,
            )
        ],
        missing=[MissingDataset(dataset=Dataset.WEATHER, reason="no weather data")],
    )
    back = Manifest.from_json(manifest.to_json())
    assert back == manifest
    assert back.rows == {"laps": 1056}
    assert back.file_for(manifest.files[0].key) == manifest.files[0]


def test_manifest_rejects_files_of_another_run() -> None:
    other = data_key(Dataset.LAPS, "20231126T013000Z-ffffffff", session=BAHRAIN)
    with pytest.raises(ValueError, match="does not belong to run"):
        Manifest(
            run_id=RUN,
            source=Source.FASTF1,
            created_at=dt.datetime.now(dt.timezone.utc),
            producer="ingestion",
            files=[ManifestFile(dataset=Dataset.LAPS, key=other, rows=1, bytes=1, sha256="a" * 64)],
        )


def test_a_key_names_the_values_its_rows_hold_in_the_partition_columns() -> None:
    assert parse_data_key(data_key(Dataset.LAPS, RUN, session=BAHRAIN)).partition_values == {
        "season": 2023,
        "round": 1,
        "session": "R",
    }
    assert parse_data_key(data_key(Dataset.SCHEDULE, RUN, season=2025)).partition_values == {"season": 2025}
    assert parse_data_key(data_key(Dataset.ERGAST_RESULTS, RUN)).partition_values == {}


@pytest.mark.parametrize(
    "other",
    [
        SessionId(season=2023, round=1, session=SessionType.QUALIFYING),
        SessionId(season=2023, round=3, session=SessionType.RACE),
        SessionId(season=2024, round=1, session=SessionType.RACE),
    ],
    ids=lambda s: s.key,
)
def test_a_session_manifest_rejects_files_of_another_session(other: SessionId) -> None:
    def manifest(session: SessionId) -> Manifest:
        key = data_key(Dataset.LAPS, RUN, session=session)
        return Manifest(
            run_id=RUN,
            source=Source.FASTF1,
            session=BAHRAIN,
            created_at=dt.datetime.now(dt.timezone.utc),
            producer="ingestion",
            files=[ManifestFile(dataset=Dataset.LAPS, key=key, rows=1, bytes=1, sha256="a" * 64)],
        )

    assert manifest(BAHRAIN).files[0].key.startswith("dataset=laps/season=2023/round=01/session=R/")
    with pytest.raises(ValueError, match="not partitioned under the run's session 2023-01-R"):
        manifest(other)
