"""Issue 14 §6: hostile events at the ingestion edge are refused strictly, quoted briefly, logged as a summary,
and cannot point the Ergast backfill at another directory."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from f1common.errors import MESSAGE_LIMIT, QUOTE_LIMIT
from f1common.events import BadRequest, IngestionRequest
from f1common.lambda_context import LocalContext
from f1common.settings import Settings
from ingestion import handler as handler_module
from ingestion.events import allowed_dump, parse_event

GOOD = {"season": 2023, "round": 1, "session": "R"}
HUGE = "x" * 5_000_000


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({**GOOD, "season": "2023"}, "season"),
        ({**GOOD, "round": True}, "round"),
        ({**GOOD, "round": 1.0}, "round"),
        ({**GOOD, "attempt": "2"}, "attempt"),
        ({**GOOD, "session": 7}, "session"),
        ({**GOOD, "requested_at": "2025-03-16T07:00:00"}, "requested_at"),  # no time zone
        ({**GOOD, "extra": 1}, "extra"),
        ({"kind": "schedule", "season": "2025"}, "season"),
    ],
)
def test_loose_values_are_refused(event: dict[str, Any], field: str) -> None:
    with pytest.raises(BadRequest, match=field):
        parse_event(event)
    with pytest.raises(BadRequest, match=field):
        parse_event(json.dumps(event))


def test_double_encoded_json_is_refused() -> None:
    once = json.dumps(GOOD)
    assert parse_event(once) == IngestionRequest.parse(GOOD)
    with pytest.raises(BadRequest, match="expected an object, got str"):
        parse_event(json.dumps(once))
    with pytest.raises(BadRequest, match="should be an object"):
        IngestionRequest.parse(json.dumps(once))


@pytest.mark.parametrize(
    "event",
    [
        {**GOOD, "session": HUGE},
        {**GOOD, HUGE: 1},
        {**GOOD, "season": HUGE},
        json.dumps(HUGE),
        HUGE,
        [HUGE],
    ],
    ids=["session", "key", "season", "double-encoded", "not-json", "list"],
)
def test_errors_quote_a_bounded_prefix_of_the_input(event: Any) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_event(event)
    assert len(str(caught.value)) < 2 * MESSAGE_LIMIT + 200, str(caught.value)[:500]


def test_the_handler_logs_a_bounded_summary_of_the_event(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    logger = handler_module.logger
    stream = io.StringIO()
    capture = logging.StreamHandler(stream)
    capture.setFormatter(logger.registered_formatter)
    level = logger.log_level
    logger.setLevel("INFO")
    inner = logging.getLogger(logger.name)  # the stdlib logger the Powertools Logger writes through
    inner.addHandler(capture)
    try:
        context = LocalContext(function_name="gpi-test-ingestion", invoked_function_arn="arn:aws:lambda:x")
        with pytest.raises(BadRequest):
            handler_module.handler({**GOOD, "session": HUGE}, context)
    finally:
        inner.removeHandler(capture)
        logger.setLevel(level)
    out = stream.getvalue()
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    received = next(line for line in lines if line["message"] == "event received")
    assert received["event"]["size"] > len(HUGE) and len(received["event"]["prefix"]) < QUOTE_LIMIT + 40
    assert max(len(line) for line in out.splitlines()) < 5_000


def test_the_ergast_dump_must_be_inside_the_configured_location(tmp_path: Path) -> None:
    configured = tmp_path / "f1data" / "ergast"
    (configured / "2025").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    assert allowed_dump(None, configured) == configured.resolve()
    assert allowed_dump(Path("2025"), configured) == (configured / "2025").resolve()
    assert allowed_dump(configured / "2025", configured) == (configured / "2025").resolve()
    for hostile in (tmp_path / "elsewhere", Path("../../elsewhere"), Path("/etc"), Path("2025/../..")):
        with pytest.raises(BadRequest, match="outside the configured location"):
            allowed_dump(hostile, configured)
    (configured / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(BadRequest, match="outside the configured location"):
        allowed_dump(Path("link"), configured)
    with pytest.raises(BadRequest, match="no Ergast dump location is configured"):
        allowed_dump(Path("/etc"), None)


def test_the_backfill_route_refuses_a_dump_elsewhere(settings: Settings, tmp_path: Path) -> None:
    event = {"kind": "ergast_backfill", "dump": str(tmp_path)}
    with pytest.raises(BadRequest, match="outside the configured location"):
        handler_module.route(event, settings=settings, s3=None, dynamodb=None)
