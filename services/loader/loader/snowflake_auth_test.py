"""Key-pair authentication: the private key from a file or from Secrets Manager (moto), and its errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
import snowflake.connector
from cryptography.hazmat.primitives import serialization

from f1common.settings import Settings
from f1common.warehouse import SNOWFLAKE_LOCK_TIMEOUT_SECONDS, SNOWFLAKE_STATEMENT_TIMEOUT_SECONDS
from loader.conftest import REGION, private_key_pem
from loader.snowflake_auth import connect, load_private_key


def test_private_key_from_file_and_secrets_manager(snowflake_settings: Settings, pem: bytes, aws: None) -> None:
    der = load_private_key(snowflake_settings)
    expected = serialization.load_pem_private_key(pem, password=None).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert der == expected

    secrets = boto3.client("secretsmanager", region_name=REGION)
    secrets.create_secret(Name="gpi/snowflake/loader-key", SecretString=pem.decode())
    from_secret = Settings(snowflake_private_key_secret_id="gpi/snowflake/loader-key")
    assert load_private_key(from_secret, secrets) == expected


def test_private_key_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="GPI_SNOWFLAKE_PRIVATE_KEY_PATH or GPI_SNOWFLAKE_PRIVATE_KEY_SECRET_ID"):
        load_private_key(Settings())
    encrypted = tmp_path / "enc.p8"
    encrypted.write_bytes(private_key_pem(b"secret"))
    with pytest.raises(ValueError, match="not an unencrypted PEM private key"):
        load_private_key(Settings(snowflake_private_key_path=encrypted))
    with pytest.raises(ValueError, match="GPI_SNOWFLAKE_ACCOUNT, GPI_SNOWFLAKE_USER"):
        connect(Settings(snowflake_private_key_path=encrypted))


def test_the_session_bounds_its_waits_below_the_lambda_timeout(
    snowflake_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lock waits and statements end before the Lambda does, and a vanished client's query is aborted."""
    opened: list[dict[str, Any]] = []
    monkeypatch.setattr(snowflake.connector, "connect", lambda **kwargs: opened.append(kwargs))
    connect(snowflake_settings)
    [kwargs] = opened
    assert kwargs["authenticator"] == "SNOWFLAKE_JWT"
    assert kwargs["session_parameters"] == {
        "TIMEZONE": "UTC",
        "LOCK_TIMEOUT": SNOWFLAKE_LOCK_TIMEOUT_SECONDS,
        "STATEMENT_TIMEOUT_IN_SECONDS": SNOWFLAKE_STATEMENT_TIMEOUT_SECONDS,
        "ABORT_DETACHED_QUERY": True,
    }
    assert SNOWFLAKE_LOCK_TIMEOUT_SECONDS < SNOWFLAKE_STATEMENT_TIMEOUT_SECONDS
