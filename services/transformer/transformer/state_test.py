"""The dbt project fingerprint that decides when the transformer rebuilds the warehouse in full."""

from __future__ import annotations

import shutil
from pathlib import Path

from transformer.state import project_fingerprint


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "dbt"
    (project / "models" / "marts").mkdir(parents=True)
    (project / "macros").mkdir()
    (project / "dbt_project.yml").write_text("name: gpi\n")
    (project / "models" / "marts" / "fct_laps.sql").write_text("select 1 as lap\n")
    (project / "macros" / "m.sql").write_text("{% macro m() %}1{% endmacro %}\n")
    return project


def test_fingerprint_is_stable_and_follows_model_changes(tmp_path: Path) -> None:
    project = _project(tmp_path)
    first = project_fingerprint(project)
    assert project_fingerprint(project) == first
    copy = tmp_path / "copy"
    shutil.copytree(project, copy)
    assert project_fingerprint(copy) == first, "the fingerprint depends on content, not on the location"
    (project / "models" / "marts" / "fct_laps.sql").write_text("select 2 as lap\n")
    assert project_fingerprint(project) != first
    (project / "models" / "marts" / "fct_laps.sql").write_text("select 1 as lap\n")
    (project / "target").mkdir()
    (project / "target" / "manifest.json").write_text("{}")
    assert project_fingerprint(project) == first, "build artefacts are not part of the project"
    (project / "macros" / "m.sql").write_text("{% macro m() %}2{% endmacro %}\n")
    assert project_fingerprint(project) != first
