"""The test harness itself: the environment it sets is restored, the resources are provisioned, the sample
sessions are checked against the offline catalogue."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from f1common.clients import aws_client
from f1common.settings import Settings
from f1common.testing import f1data_dir_or_skip
from grandprix_local.harness import embedded_stack, sample_sessions


def test_the_stack_provisions_the_platform_and_restores_the_environment(tmp_path: Path, fastf1_cache: Path) -> None:
    before = dict(os.environ)
    with embedded_stack(tmp_path, f1data_dir=f1data_dir_or_skip(), fastf1_cache=fastf1_cache) as stack:
        assert os.environ["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
        assert stack.settings.warehouse_path == stack.warehouse == tmp_path / "warehouse.duckdb"
        assert aws_client("dynamodb", stack.settings).describe_table(TableName=stack.settings.table)
        config = stack.s3.get_bucket_notification_configuration(Bucket=stack.settings.bucket)
        assert {q["Id"] for q in config["QueueConfigurations"]} == {"loader-dataset", "loader-manifests"}
    assert dict(os.environ) == before


def test_sample_sessions_come_from_the_offline_catalogue(fastf1_cache: Path) -> None:
    settings = Settings(f1data_dir=f1data_dir_or_skip(), fastf1_cache_dir=fastf1_cache, fastf1_offline=True)
    assert [s.key for s in sample_sessions(settings, ["2023-01-R", "2025-02-SQ"])] == ["2023-01-R", "2025-02-SQ"]
    with pytest.raises(LookupError, match="2023-02-R"):  # 2023 Saudi Arabia: not in the shared cache
        sample_sessions(settings, ["2023-01-R", "2023-02-R"])
