"""Snowflake key-pair authentication of the loader, and its one connection per warm container.

The PEM private key comes from ``settings.snowflake_private_key_path`` or from Secrets Manager
(``settings.snowflake_private_key_secret_id``, read through Powertools' parameters with caching); no
password is ever used.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import snowflake.connector
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from cryptography.hazmat.primitives import serialization

from f1common.settings import Settings
from f1common.warehouse import SNOWFLAKE_SESSION_PARAMETERS, schema_name

SECRET_MAX_AGE_SECONDS = 300  # a rotated key is picked up within five minutes
_CONNECTIONS: dict[tuple[str | None, ...], Any] = {}


@lru_cache(maxsize=8)
def secrets_provider(client: Any) -> SecretsProvider:
    """The (caching) Powertools secrets provider over a Secrets Manager client; one per client."""
    return SecretsProvider(boto3_client=client)


def load_private_key(settings: Settings, secrets: Any | None = None) -> bytes:
    """The private key as unencrypted PKCS#8 DER, from a PEM file or a Secrets Manager secret."""
    if settings.snowflake_private_key_path is not None:
        pem = Path(settings.snowflake_private_key_path).read_bytes()
        source = str(settings.snowflake_private_key_path)
    elif settings.snowflake_private_key_secret_id:
        if secrets is None:
            raise ValueError("a Secrets Manager client is needed to read snowflake_private_key_secret_id")
        secret = secrets_provider(secrets).get(settings.snowflake_private_key_secret_id, max_age=SECRET_MAX_AGE_SECONDS)
        if not isinstance(secret, str | bytes):
            raise ValueError(f"secret {settings.snowflake_private_key_secret_id} holds no PEM text")
        pem = secret.encode() if isinstance(secret, str) else secret
        source = f"secret {settings.snowflake_private_key_secret_id}"
    else:
        raise ValueError(
            "no Snowflake private key configured: set GPI_SNOWFLAKE_PRIVATE_KEY_PATH or "
            "GPI_SNOWFLAKE_PRIVATE_KEY_SECRET_ID (key-pair authentication; passwords are not supported)"
        )
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"Snowflake private key from {source} is not an unencrypted PEM private key: {exc}") from None
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def connect(settings: Settings, *, secrets: Any | None = None) -> Any:
    """A Snowflake connection with key-pair (JWT) authentication, schema STAGING of the stage's database, its waits
    and statements bounded below the Lambda timeout (f1common.warehouse.SNOWFLAKE_SESSION_PARAMETERS)."""
    required = {"snowflake_account": settings.snowflake_account, "snowflake_user": settings.snowflake_user}
    missing = [f"GPI_{name.upper()}" for name, value in required.items() if not value]
    if missing:
        raise ValueError(f"Snowflake settings missing: {', '.join(missing)}")
    endpoint: dict[str, Any] = {}
    if settings.snowflake_host:
        endpoint = {"host": settings.snowflake_host, "protocol": settings.snowflake_protocol}
        if settings.snowflake_port:
            endpoint["port"] = settings.snowflake_port
    return snowflake.connector.connect(
        **endpoint,
        account=settings.snowflake_account,
        user=settings.snowflake_user,
        authenticator="SNOWFLAKE_JWT",
        private_key=load_private_key(settings, secrets),
        role=settings.snowflake_role,
        warehouse=settings.snowflake_warehouse,
        database=database_name(settings),
        schema=schema_name("snowflake"),
        session_parameters=dict(SNOWFLAKE_SESSION_PARAMETERS),
    )


def warehouse_connection(settings: Settings, *, secrets: Any | None = None) -> Any:
    """The warm container's Snowflake connection for `settings`: opened once, reopened only when closed."""
    key = (
        settings.snowflake_account,
        settings.snowflake_user,
        settings.snowflake_role,
        settings.snowflake_warehouse,
        database_name(settings),
    )
    conn = _CONNECTIONS.get(key)
    if conn is None or conn.is_closed():
        conn = _CONNECTIONS[key] = connect(settings, secrets=secrets)
    return conn


def database_name(settings: Settings) -> str:
    return settings.snowflake_database or settings.names.warehouse_database
