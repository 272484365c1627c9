"""AWS client factory: one cached client per service/region/endpoint (creating one costs ~50 ms)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

from f1common.settings import Settings


def new_client(service: str, region: str | None, endpoint: str | None) -> Any:
    """A new (uncached) boto3 client with the platform's retry policy; prefer :func:`aws_client`."""
    config = Config(retries={"max_attempts": 5, "mode": "standard"})
    return boto3.client(service, region_name=region, endpoint_url=endpoint, config=config)  # type: ignore[call-overload]


@lru_cache(maxsize=64)
def _client(service: str, region: str, endpoint: str | None) -> Any:
    return new_client(service, region, endpoint)


def aws_client(service: str, settings: Settings | None = None) -> Any:
    """A boto3 client honouring the settings' region and emulator endpoint (`AWS_ENDPOINT_URL`)."""
    settings = settings or Settings()
    return _client(service, settings.aws_region, settings.aws_endpoint_url)


def clear_client_cache() -> None:
    _client.cache_clear()
