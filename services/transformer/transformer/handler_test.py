"""The transformer in Snowflake mode, as the AWS stack configures it: its readiness connection and dbt target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import snowflake.connector
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from f1common.settings import Settings
from f1common.warehouse import SNOWFLAKE_SESSION_PARAMETERS
from transformer.conftest import STACK_ENV
from transformer.handler import PROD_TARGET, transformer_from_settings


class _Connection:
    def __init__(self, log: list[Any]) -> None:
        self.log = log

    def cursor(self) -> str:
        return "cursor"

    def close(self) -> None:
        self.log.append("closed")


def test_the_snowflake_connection_is_the_services_bounded_session(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = tmp_path / "transformer-key.p8"
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key.write_bytes(pem)
    env = {**STACK_ENV, "GPI_SNOWFLAKE_PRIVATE_KEY_PATH": str(key), "AWS_DEFAULT_REGION": "eu-west-1"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    log: list[Any] = []

    def connect(**kwargs: Any) -> _Connection:
        log.append(kwargs)
        return _Connection(log)

    monkeypatch.setattr(snowflake.connector, "connect", connect)

    transformer = transformer_from_settings(Settings(), tmp_path / "artifacts")
    with transformer.connect() as cursor:
        assert cursor == "cursor"

    [kwargs, closed] = log
    assert closed == "closed"
    assert kwargs["session_parameters"] == dict(SNOWFLAKE_SESSION_PARAMETERS)
    assert (kwargs["authenticator"], kwargs["paramstyle"]) == ("SNOWFLAKE_JWT", "qmark")
    assert (kwargs["role"], kwargs["warehouse"], kwargs["database"]) == (
        "GPI_DEV_TRANSFORMER",
        "GPI_DEV_TRANSFORM_WH",
        "GPI_DEV",
    )
    assert transformer.dbt.target == PROD_TARGET
    assert transformer.dbt.env["SNOWFLAKE_PRIVATE_KEY_PATH"] == str(key)


def test_the_handler_never_logs_the_event_even_when_powertools_is_told_to(monkeypatch: pytest.MonkeyPatch) -> None:
    """POWERTOOLS_LOGGER_LOG_EVENT (read when the module is imported) would log whole SQS batches: a 200 KB
    message refused here is quoted in bounded form only."""
    import contextlib
    import importlib
    import io
    import json
    from types import SimpleNamespace

    import transformer.handler
    import transformer.transform
    from f1common.lambda_context import LocalContext

    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    reloaded = importlib.reload(transformer.handler)
    try:
        stream = io.StringIO()
        monkeypatch.setattr(reloaded.logger.registered_handler, "stream", stream)
        # a batch of refused messages builds nothing: it only reads which runs are in staging (none here)
        no_warehouse = SimpleNamespace(connect=contextlib.nullcontext)
        monkeypatch.setattr(reloaded, "_cached", lambda settings, artifacts: no_warehouse)
        monkeypatch.setattr(transformer.transform, "pending_runs", lambda con, landed: set())
        monkeypatch.setattr(transformer.transform, "read_state_from", lambda con: None)
        junk = "x" * 200_000

        response = reloaded.handler(
            {"Records": [{"messageId": "junk", "body": junk}]},
            LocalContext("transformer", "arn:aws:lambda:eu-west-1:000000000000:function:transformer"),
        )

        assert response == {"batchItemFailures": [{"itemIdentifier": "junk"}]}
        lines = stream.getvalue().splitlines()
        assert any(json.loads(line)["message"] == "transform" for line in lines)
        assert max(len(line) for line in lines) < 2_000 and "x" * 500 not in stream.getvalue()
    finally:  # the module as the other tests import it, whatever the outcome
        monkeypatch.delenv("POWERTOOLS_LOGGER_LOG_EVENT")
        importlib.reload(transformer.handler)
