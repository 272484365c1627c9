import datetime as dt
from pathlib import Path

from f1common.clients import aws_client
from f1common.settings import Settings
from grandprix_local.stack import moto_server, provision
from grandprix_local.state import restore_state, save_state


def test_state_survives_a_restart_of_the_emulator(tmp_path: Path) -> None:
    item = {
        "pk": {"S": "2023-01-R"},
        "season": {"N": "2023"},
        "rows": {"M": {"laps": {"N": "1056"}}},
        "when": {"S": dt.datetime(2023, 3, 5, tzinfo=dt.UTC).isoformat()},
        "ratio": {"N": "0.25"},
    }
    with moto_server():
        settings = Settings()
        provision(settings)
        aws_client("dynamodb", settings).put_item(TableName=settings.table, Item=item)
        aws_client("s3", settings).put_object(Bucket=settings.bucket, Key="manifests/a.json", Body=b"{}")
        assert save_state(settings, tmp_path) == {"calendar_items": 1, "objects": 1}
    with moto_server():  # a new, empty emulator
        settings = Settings()
        provision(settings, notifications=False)
        assert restore_state(settings, tmp_path) == {"calendar_items": 1, "objects": 1}
        got = aws_client("dynamodb", settings).get_item(TableName=settings.table, Key={"pk": {"S": "2023-01-R"}})
        assert got["Item"] == item
        body = aws_client("s3", settings).get_object(Bucket=settings.bucket, Key="manifests/a.json")["Body"].read()
        assert body == b"{}"


def test_keys_that_are_no_path_inside_the_state_are_not_saved(tmp_path: Path) -> None:
    """The emulator takes any key: one that would climb out of the state directory, or name an absolute path,
    is left out (counted), and the others are saved."""
    state = tmp_path / "state"
    with moto_server():
        settings = Settings()
        provision(settings, notifications=False)
        s3 = aws_client("s3", settings)
        for key in ("../../escaped.txt", "/tmp/absolute.txt", "manifests/./a.json", "manifests//a.json"):
            s3.put_object(Bucket=settings.bucket, Key=key, Body=b"hostile")
        s3.put_object(Bucket=settings.bucket, Key="manifests/a.json", Body=b"{}")
        assert save_state(settings, state) == {"calendar_items": 0, "objects": 1, "refused": 4}
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [
        "state/calendar.json",
        "state/s3/manifests/a.json",
    ]
