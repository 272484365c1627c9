import pytest

from f1common.events import BadRequest, IngestionRequest
from f1common.sessions import SessionId, SessionType
from f1common.settings import Settings


def test_ingestion_request_round_trips_as_scheduler_input() -> None:
    req = IngestionRequest.parse({"season": 2023, "round": 1, "session": "Race"})
    assert req.session_id == SessionId(season=2023, round=1, session=SessionType.RACE)
    assert req.attempt == 1
    again = IngestionRequest.parse(req.model_dump_json())
    assert again == req
    assert IngestionRequest.parse(req.to_payload()) == req


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"season": 2023, "round": 99, "session": "R"}, "round"),
        ({"season": 2023, "round": 1, "session": "Warmup"}, "session: unknown session type"),
        ({"season": "twenty", "round": 1, "session": "R"}, "season"),
        ({"round": 1, "session": "R"}, "season: Field required"),
        ({"season": 2023, "round": 1, "session": "R", "attempt": 0}, "attempt"),
        ({"season": 2023, "round": 1, "session": "R", "colour": "red"}, "colour"),
        ("not json", "invalid ingestion request"),
        ([1, 2], "expected an object"),
    ],
)
def test_bad_requests_name_the_field(payload: object, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        IngestionRequest.parse(payload)


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPI_STAGE", "dev")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
    monkeypatch.setenv("GPI_LANDING_BUCKET", "my-bucket")
    settings = Settings()
    assert settings.aws_endpoint_url == "http://127.0.0.1:5000"
    assert settings.bucket == "my-bucket"
    assert settings.table == "gpi-dev-race-calendar"
    assert settings.names.ingestion_function == "gpi-dev-ingestion"


def test_settings_reject_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPI_WAREHOUSE", "oracle")
    with pytest.raises(ValueError, match="warehouse"):
        Settings()
