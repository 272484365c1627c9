"""The dbt project's generated files are what f1common renders now (no drift), and the models use them."""

from __future__ import annotations

import re

import yaml  # type: ignore[import-untyped]

from dbt_runner.contract import PROJECT_DIR, contract_macros, generated_files, sources_yaml, stale_files
from f1common.datasets import DATASETS, Dataset, Source
from f1common.sessions import SessionType


def test_committed_generated_files_match_f1common() -> None:
    stale = [str(p.relative_to(PROJECT_DIR)) for p in stale_files()]
    assert not stale, f"generated dbt files are stale: {stale}; run: python -m dbt_runner.contract"


def test_sources_carry_each_datasets_columns_descriptions_and_natural_key() -> None:
    [fastf1] = yaml.safe_load(sources_yaml(Source.FASTF1))["sources"]
    laps = next(t for t in fastf1["tables"] if t["name"] == "laps_staging")
    assert laps["description"].endswith("Natural key: season, round, session, driver_number, lap_number.")
    assert laps["config"]["meta"]["natural_key"] == list(DATASETS[Dataset.LAPS].natural_key)
    assert {"name": "session_time_ms", "description": "Session time when the lap was set (lap end)"} in laps["columns"]
    [ergast] = yaml.safe_load(sources_yaml(Source.ERGAST))["sources"]
    assert {t["name"] for t in ergast["tables"]} == {
        s.staging_table.lower() for s in DATASETS.values() if s.source is Source.ERGAST
    }


def test_race_like_sessions_come_from_session_type() -> None:
    race_like = {t.code for t in SessionType if t.is_race_like}
    assert race_like == {"R", "S"}
    [codes] = re.findall(r"in \(([^)]*)\)", contract_macros())
    assert {c.strip(" '") for c in codes.split(",")} == race_like


def test_no_model_restates_the_race_like_sessions_or_a_natural_key() -> None:
    generated = set(generated_files())
    for path in (PROJECT_DIR / "models").rglob("*.sql"):
        if path in generated:
            continue
        sql = path.read_text()
        assert not re.search(r"session\s+in\s*\(\s*'R'\s*,\s*'S'\s*\)", sql), f"{path.name}: use is_race_like()"
        assert "latest_load_only" not in sql, path.name
    staging = {p.stem for p in (PROJECT_DIR / "models" / "staging").rglob("stg_*.sql")}
    for spec in DATASETS.values():
        users = [
            s
            for s in staging
            if f"current_run_rows('{spec.staging_table.lower()}'"
            in (next((PROJECT_DIR / "models" / "staging").rglob(f"{s}.sql"))).read_text()
        ]
        assert len(users) == 1, f"{spec.staging_table}: one staging model reads it through current_run_rows"
