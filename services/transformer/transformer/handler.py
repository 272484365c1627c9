"""The transformer Lambda: SQS batches of the transformer queue -> one dbt build (transformer.transform).

The same handler runs on the embedded stack (the local queue trigger delivers the queue's batches to it):
there `GPI_WAREHOUSE=duckdb` and dbt builds the DuckDB file with the `local` target; in the cloud
`GPI_WAREHOUSE=snowflake` and dbt builds Snowflake with the `prod` target, as the stage's transformer
service user (key pair from Secrets Manager).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from f1common.clients import aws_client
from f1common.names import SERVICE_TRANSFORMER
from f1common.observability import service_logger, service_metrics
from f1common.settings import Settings
from f1common.warehouse import SNOWFLAKE_SESSION_PARAMETERS
from transformer.state import StateStore
from transformer.transform import DbtTarget, Outcome, Transformer, transform_batch

logger = service_logger(SERVICE_TRANSFORMER)
metrics = service_metrics(SERVICE_TRANSFORMER)

# Lambda's only writable path; kept between warm invocations (dbt's partial parse, the key file).
LAMBDA_ARTIFACTS = Path("/tmp/dbt")
ARTIFACTS_ENV = "GPI_TRANSFORMER_ARTIFACTS_DIR"
PROD_TARGET = "prod"


def dbt_environment(settings: Settings, private_key_path: Path) -> dict[str, str]:
    """The variables the dbt profile's `prod` target reads (analytics/dbt/profiles.yml), from the settings the
    AWS stack gives the function (the Snowflake stack's outputs for the transformer)."""
    values = {
        "SNOWFLAKE_ACCOUNT": settings.snowflake_account,
        "SNOWFLAKE_USER": settings.snowflake_user,
        "SNOWFLAKE_ROLE": settings.snowflake_role,
        "SNOWFLAKE_WAREHOUSE": settings.snowflake_warehouse,
        "SNOWFLAKE_DATABASE": settings.snowflake_database or settings.names.warehouse_database,
    }
    missing = sorted(k for k, v in values.items() if not v)
    if missing:
        raise ValueError(f"Snowflake settings missing for the transformer: {', '.join(missing)}")
    return {**{k: str(v) for k, v in values.items()}, "SNOWFLAKE_PRIVATE_KEY_PATH": str(private_key_path)}


def private_key_file(settings: Settings, directory: Path) -> Path:
    """The transformer user's PEM key as a file (dbt reads a path): from the settings' path, or Secrets Manager."""
    if settings.snowflake_private_key_path is not None:
        return settings.snowflake_private_key_path
    if not settings.snowflake_private_key_secret_id:
        raise ValueError("GPI_SNOWFLAKE_PRIVATE_KEY_PATH or GPI_SNOWFLAKE_PRIVATE_KEY_SECRET_ID is required")
    secret = aws_client("secretsmanager", settings).get_secret_value(SecretId=settings.snowflake_private_key_secret_id)
    path = directory / "snowflake-key.p8"
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secret["SecretString"])
    return path


@contextlib.contextmanager
def _duckdb(path: Path) -> Iterator[Any]:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        yield con
    finally:
        con.close()


@contextlib.contextmanager
def _snowflake(settings: Settings, key_path: Path) -> Iterator[Any]:
    import snowflake.connector
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    con = snowflake.connector.connect(
        account=settings.snowflake_account,
        user=settings.snowflake_user,
        authenticator="SNOWFLAKE_JWT",
        private_key=key,
        role=settings.snowflake_role,
        warehouse=settings.snowflake_warehouse,
        database=settings.snowflake_database or settings.names.warehouse_database,
        paramstyle="qmark",
        session_parameters=dict(SNOWFLAKE_SESSION_PARAMETERS),
    )
    try:
        yield con.cursor()
    finally:
        con.close()


def transformer_from_settings(settings: Settings, artifacts: Path = LAMBDA_ARTIFACTS) -> Transformer:
    """The transformer of this environment: DuckDB (embedded stack) or Snowflake (cloud)."""
    state = StateStore(aws_client("s3", settings), settings.bucket)
    if settings.warehouse == "duckdb":
        path = settings.warehouse_path
        return Transformer(lambda: _duckdb(path), state, DbtTarget(warehouse_path=path), artifacts)
    key = private_key_file(settings, artifacts)
    env = dbt_environment(settings, key)
    return Transformer(lambda: _snowflake(settings, key), state, DbtTarget(target=PROD_TARGET, env=env), artifacts)


@lru_cache(maxsize=1)
def _cached(settings: Settings, artifacts: Path) -> Transformer:
    return transformer_from_settings(settings, artifacts)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True, log_event=False)
def handle(event: dict[str, Any], context: LambdaContext) -> Outcome:
    """The Lambda's work, returning the outcome (the embedded stack's trigger reports it): one batch of the
    transformer queue, at most one dbt build."""
    artifacts = Path(os.environ.get(ARTIFACTS_ENV, str(LAMBDA_ARTIFACTS)))
    outcome = transform_batch(event, _cached(Settings(), artifacts), metrics=metrics, context=context)
    build = outcome.build
    logger.info(
        "transform",
        extra={
            "requests": len(outcome.requests),
            "refused": len(outcome.refused),
            "pending_runs": sorted(outcome.pending),
            "dbt_started": bool(build and build.run),
            "full_refresh": outcome.full_refresh,
            "changed": [d.value for d in build.plan.datasets] if build else [],
            "stale_sources": outcome.stale_sources,
            "seconds": round(outcome.seconds, 2),
        },
    )
    return outcome


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """SQS batch -> the partial batch response (`ReportBatchItemFailures`: runs not in staging, refused messages)."""
    return handle(event, context).batch_response()
