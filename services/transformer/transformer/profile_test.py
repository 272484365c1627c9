"""The dbt profile's `prod` target reads exactly what the transformer gives it, from the settings the AWS stack
sets from the Snowflake stack's outputs (infra/pulumi/gpi_infra/transformer_stack_test.py checks that side)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from dbt_runner.runner import PROJECT_DIR
from f1common.names import ResourceNames
from f1common.settings import Settings
from transformer.conftest import STACK_ENV
from transformer.handler import dbt_environment

ENV_VAR = re.compile(r"env_var\('(\w+)'(?:,\s*'([^']*)')?\)")
EXPRESSION = re.compile(r"\{\{\s*env_var\('(\w+)'\)\s*\}\}")  # a whole value read from one variable


def _prod_target() -> dict[str, str]:
    profile = yaml.safe_load((PROJECT_DIR / "profiles.yml").read_text())
    return dict(profile["grandprix_insights"]["outputs"]["prod"])


def test_the_prod_target_reads_the_transformer_environment_without_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in STACK_ENV.items():
        monkeypatch.setenv(name, value)
    key = tmp_path / "snowflake-key.p8"
    env = dbt_environment(Settings(), key)
    read = {m.group(1): m.group(2) for value in _prod_target().values() for m in ENV_VAR.finditer(str(value))}
    assert set(read) == set(env), "the profile reads exactly the variables the transformer sets"
    assert all(default is None for default in read.values()), "no default names a wrong GPI_<STAGE>_ object"
    rendered = {key: EXPRESSION.sub(lambda m: env[m.group(1)], str(value)) for key, value in _prod_target().items()}
    assert (rendered["account"], rendered["user"]) == ("ACME-GPI", "GPI_DEV_DBT_SVC")
    assert (rendered["role"], rendered["warehouse"], rendered["database"]) == (
        "GPI_DEV_TRANSFORMER",
        "GPI_DEV_TRANSFORM_WH",
        "GPI_DEV",
    )
    assert rendered["private_key_path"] == str(key)


def test_a_missing_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in STACK_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GPI_SNOWFLAKE_ROLE")
    with pytest.raises(ValueError, match="SNOWFLAKE_ROLE"):
        dbt_environment(Settings(), Path("/tmp/key.p8"))


def test_the_project_builds_into_the_schemas_the_snowflake_stack_creates() -> None:
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())
    names = ResourceNames.for_stage("dev")
    assert project["snapshots"]["grandprix_insights"]["+schema"].upper() == names.snapshots_schema
    assert _prod_target()["schema"].upper() == names.analytics_schema
    models = project["models"]["grandprix_insights"]
    assert models["+schema"].upper() == names.analytics_schema
    nested = {str(v["+schema"]).upper() for v in models.values() if isinstance(v, dict) and "+schema" in v}
    assert nested <= {names.analytics_schema}, nested
