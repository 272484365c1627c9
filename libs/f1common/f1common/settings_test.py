"""Settings that reach SQL or resource names unquoted are checked when read, not when used."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from f1common.names import ResourceNames
from f1common.settings import Settings


@pytest.mark.parametrize("stage", ["dev", "prod", "local", "pr42"])
def test_a_stage_of_lower_case_letters_and_digits_names_the_resources(stage: str) -> None:
    names = Settings(stage=stage).names
    assert names.landing_bucket == f"gpi-{stage}-landing" and names.warehouse_database == f"GPI_{stage.upper()}"


@pytest.mark.parametrize("stage", ["Dev", "x; DROP DATABASE GPI_PROD", "dev-1", "a", "s" * 17, "dev\n"])
def test_any_other_stage_is_refused(stage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="stage"):
        Settings(stage=stage)
    monkeypatch.setenv("GPI_STAGE", stage)
    with pytest.raises(ValidationError, match="stage"):
        Settings()
    with pytest.raises(ValueError, match="stage must match"):
        ResourceNames.for_stage(stage)


def test_the_snowflake_database_is_a_plain_name(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(snowflake_database="GPI_DEV").snowflake_database == "GPI_DEV"
    for hostile in ("GPI_DEV; DROP TABLE X", 'GPI"DEV', "GPI.DEV", "", "GPI_DEV\n"):
        monkeypatch.setenv("GPI_SNOWFLAKE_DATABASE", hostile)
        with pytest.raises(ValidationError, match="snowflake_database"):
            Settings()
