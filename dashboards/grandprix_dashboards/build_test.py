"""The build CLI: dashboard JSON and Grafana provisioning YAML that refer to each other consistently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]

from grandprix_dashboards import alerts
from grandprix_dashboards.__main__ import main
from grandprix_dashboards.catalog import dashboards
from grandprix_dashboards.datasources import DUCKDB, MICHELIN, SNOWFLAKE
from grandprix_dashboards.validate import all_problems


def test_build_both_datasources(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--out", str(tmp_path), "--datasource", "both", "--grafana-dashboards-dir", "/srv/gd"]) == 0
    printed = capsys.readouterr().out.split()
    slugs = sorted(f"{s.slug}.json" for s in dashboards())
    for ds in (DUCKDB, SNOWFLAKE):
        folder = tmp_path / "dashboards" / ds.key
        assert sorted(p.name for p in folder.iterdir()) == slugs
        for path in folder.iterdir():
            data = json.loads(path.read_text())
            assert all_problems(data, ds) == []
            assert str(path) in printed
    sources = yaml.safe_load((tmp_path / "provisioning/datasources/grand-prix-insights.yaml").read_text())
    assert sources["apiVersion"] == 1
    by_uid = {d["uid"]: d for d in sources["datasources"]}
    assert by_uid["gpi-duckdb"]["type"] == "motherduck-duckdb-datasource"
    assert by_uid["gpi-duckdb"]["jsonData"]["path"] == "${GPI_WAREHOUSE_PATH}"
    assert by_uid["gpi-snowflake"]["type"] == "grafana-snowflake-datasource"
    assert by_uid["gpi-snowflake"]["secureJsonData"] == {"privateKey": "${GPI_SNOWFLAKE_PRIVATE_KEY}"}
    assert [d["isDefault"] for d in sources["datasources"]] == [True, False]
    providers = yaml.safe_load((tmp_path / "provisioning/dashboards/grand-prix-insights.yaml").read_text())
    paths = {p["options"]["path"] for p in providers["providers"]}
    assert paths == {"/srv/gd/duckdb", "/srv/gd/snowflake"}
    assert all(p["type"] == "file" for p in providers["providers"])


def test_build_one_datasource(tmp_path: Path) -> None:
    assert main(["build", "--out", str(tmp_path), "--datasource", "snowflake"]) == 0
    assert not (tmp_path / "dashboards" / "duckdb").exists()
    sources = yaml.safe_load((tmp_path / "provisioning/datasources/grand-prix-insights.yaml").read_text())
    assert [d["uid"] for d in sources["datasources"]] == ["gpi-snowflake"]


def test_bad_arguments_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["build", "--out", str(tmp_path), "--datasource", "postgres"])
    assert "invalid choice: 'postgres'" in capsys.readouterr().err
    assert main(["preview", "--warehouse", str(tmp_path / "missing.duckdb"), "--out", str(tmp_path)]) == 2
    assert "missing.duckdb does not exist" in capsys.readouterr().err


def test_build_all_plugins_with_alerting(tmp_path: Path) -> None:
    assert main(["build", "--out", str(tmp_path), "--datasource", "all"]) == 0
    for ds in (DUCKDB, SNOWFLAKE, MICHELIN):
        for path in (tmp_path / "dashboards" / ds.key).iterdir():
            assert all_problems(json.loads(path.read_text()), ds) == []
    oss = json.loads((tmp_path / "dashboards/michelin/race-progress.json").read_text())
    target = oss["panels"][0]["targets"][0]
    assert set(target) == {"refId", "datasource", "queryText", "queryType"} and target["queryType"] == "table"
    sources = yaml.safe_load((tmp_path / "provisioning/datasources/grand-prix-insights.yaml").read_text())
    michelin = next(d for d in sources["datasources"] if d["type"] == "michelin-snowflake-datasource")
    assert michelin["jsonData"]["authMethod"] == "keyPair" and michelin["uid"] == "gpi-snowflake-oss"
    alerting = yaml.safe_load((tmp_path / "provisioning/alerting/grand-prix-insights.yaml").read_text())
    assert alerting["apiVersion"] == 1
    folders = yaml.safe_load((tmp_path / "provisioning/dashboards/grand-prix-insights.yaml").read_text())
    titles = {p["folder"] for p in folders["providers"]}
    assert {g["folder"] for g in alerting["groups"]} == titles  # rules live in the dashboards' folders
    uids = [r["uid"] for g in alerting["groups"] for r in g["rules"]]
    assert len(uids) == len(set(uids)) == 3 * sum(len(g.rules) for g in alerts.rule_groups())
    assert alerting["policies"][0]["routes"] == [alerts.route()]
