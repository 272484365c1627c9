"""The dbt project without a warehouse: the sources follow the dataset contract, and the prod
(Snowflake) target parses and compiles offline, with Snowflake's spelling of the dispatch macros."""

from __future__ import annotations

import pytest
import yaml  # type: ignore[import-untyped]

from dbt_runner.runner import PROJECT_DIR, run_dbt
from f1common.datasets import DATASETS, SESSION_DATASETS, Source
from f1common.warehouse import METADATA_COLUMNS

# Dummy key-pair settings: parse/compile must never need a real account.
OFFLINE_SNOWFLAKE = {
    "SNOWFLAKE_ACCOUNT": "ci-offline",
    "SNOWFLAKE_USER": "ci",
    "SNOWFLAKE_PRIVATE_KEY_PATH": "/nonexistent/rsa_key.p8",
    "SNOWFLAKE_ROLE": "GPI_CI_TRANSFORMER",
    "SNOWFLAKE_WAREHOUSE": "GPI_CI_TRANSFORM_WH",
    "SNOWFLAKE_DATABASE": "GPI_CI",
}


def _sources() -> dict[str, dict[str, list[str]]]:
    found: dict[str, dict[str, list[str]]] = {}
    for path in (PROJECT_DIR / "models" / "staging").rglob("_*__sources.yml"):
        for source in yaml.safe_load(path.read_text())["sources"]:
            if source["name"] == "landing":  # the loader's manifests, not a dataset
                continue
            assert source["schema"] == "staging", f"{path.name}: sources live in schema staging"
            assert source["config"]["loaded_at_field"] == "_load_time", f"{path.name}: freshness on _load_time"
            tables = {t["name"]: [c["name"] for c in t["columns"]] for t in source["tables"]}
            found[source["name"]] = tables
    return found


def test_sources_declare_every_staging_table_with_the_contract_columns() -> None:
    sources = _sources()
    for spec in DATASETS.values():
        source = "ergast" if spec.source is Source.ERGAST else "fastf1"
        table = spec.staging_table.lower()
        assert table in sources[source], f"source {source} lacks staging table {table}"
        assert sources[source][table] == [*spec.column_names, *METADATA_COLUMNS], f"columns of {table} drifted"
    assert sum(len(t) for t in sources.values()) == len(DATASETS)


@pytest.fixture(scope="module")
def prod_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Compiles the whole project for the prod target without a Snowflake connection."""
    artifacts = tmp_path_factory.mktemp("dbt-prod")
    run = run_dbt(
        ["compile", "--no-populate-cache", "--no-introspect", "--vars", "{offline_compile: true}"],
        target="prod",
        env=OFFLINE_SNOWFLAKE,
        artifacts_dir=artifacts,
    )
    models_dir = artifacts / "target" / "compiled" / "grandprix_insights" / "models"
    models = {p.stem: p.read_text() for p in models_dir.rglob("*.sql") if p.parent.suffix != ".yml"}
    assert len(models) == sum(1 for n in run.nodes if n.unique_id.startswith("model.")), "a model did not compile"
    return models


def test_prod_target_compiles_offline_with_snowflake_sql(prod_models: dict[str, str]) -> None:
    assert {"fct_laps", "fct_race_results", "mart_driver_standings", "dim_drivers"} <= prod_models.keys()
    # the Snowflake implementations of the dispatch macros were chosen
    assert "timestamp_ntz_from_parts(date, try_to_time(time))" in prod_models["stg_ergast__races"]
    assert "cast(_load_time as timestamp_ntz)" in prod_models["stg_fastf1__laps"]
    assert "try_cast(cast(classified_position as varchar) as integer)" in prod_models["fct_race_results"]
    # dbt's own cross-database macros rendered for Snowflake
    assert "dateadd(\n        millisecond," in prod_models["fct_laps"]


def test_compiled_prod_sql_is_valid_snowflake_syntax(prod_models: dict[str, str]) -> None:
    sqlglot = pytest.importorskip("sqlglot")
    for name, sql in prod_models.items():
        try:
            sqlglot.parse_one(sql, read="snowflake")
        except sqlglot.errors.ParseError as exc:
            pytest.fail(f"{name} is not valid Snowflake SQL: {exc}")


def test_session_staging_models_join_the_staging_tables_on_their_clustering_columns(
    prod_models: dict[str, str],
) -> None:
    # Snowflake prunes micro-partitions on a table's own columns (its clustering key), never on an expression:
    # the sessions to build are joined on season, round and session, not on a session key computed from them
    assert SESSION_DATASETS
    for dataset in SESSION_DATASETS:
        spec = DATASETS[dataset]
        assert spec.partition.columns == ("season", "round", "session")
        sql = " ".join(prod_models[f"stg_fastf1__{dataset.value}"].split())
        assert f"staging.{spec.staging_table} as loaded".lower() in sql.lower(), dataset
        joined = " and ".join(f"loaded.{c} = sessions.{c}" for c in spec.partition.columns)
        assert f"on {joined}" in sql, dataset
        assert "= sessions.session_key" not in sql, dataset
