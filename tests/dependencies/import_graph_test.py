"""tools/import-graph on trees written here: what it counts as an edge, a forbidden edge and a private import."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

PANTS_TOML = '[source]\nroot_patterns = ["/libs/f1common", "/services/*", "/dashboards", "/infra/pulumi"]\n'


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("import_graph", "tools/import-graph")
    spec = importlib.util.spec_from_loader("import_graph", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def write(tree: Path, files: dict[str, str]) -> Path:
    (tree / "pants.toml").write_text(PANTS_TOML)
    for name, text in files.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(text)
    return tree


def printed(
    tool: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str], files: dict[str, str]
) -> tuple[str, str]:
    """What the tool prints (out, err) for a tree of `files` (beside a loader service), having exited 0."""
    tree = write(tmp_path, {"services/loader/loader/__init__.py": "", **files})
    assert tool.main(["import-graph", str(tree)]) == 0
    captured = capsys.readouterr()
    return captured.out, captured.err


def test_edges_count_files_of_one_part_importing_another_apart_for_tests(tool: ModuleType, tmp_path: Path) -> None:
    tree = write(
        tmp_path,
        {
            "libs/f1common/f1common/__init__.py": "",
            "libs/f1common/f1common/names.py": "import json\n",
            "services/loader/loader/__init__.py": "",
            "services/loader/loader/load.py": "from f1common.names import X\nimport f1common\n",
            "services/loader/loader/copy.py": "import f1common.names\nfrom . import load\n",
            "services/loader/loader/load_test.py": "from f1common import names\n",
        },
    )
    edges, private = tool.graph(tree)
    assert dict(edges[False]) == {("loader", "f1common"): 2}
    assert dict(edges[True]) == {("loader", "f1common"): 1}
    assert private == []


def test_a_service_importing_another_and_dashboards_importing_a_service_break_the_rules(
    tool: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {
        "services/ingestion/ingestion/__init__.py": "",
        "services/ingestion/ingestion/handler.py": "from loader import _settings\n",
        "dashboards/grandprix_dashboards/__init__.py": "",
        "dashboards/grandprix_dashboards/panels.py": "import loader.ddl\n",
        "dashboards/grandprix_dashboards/panels_test.py": "import loader\n",
    }
    out, _ = printed(tool, tmp_path, capsys, files)
    assert "code: dashboards -> loader (1 files); code: ingestion -> loader (1 files)" in out
    assert "tests: dashboards" not in out.split("against the dependency rules:")[1]
    assert "services/ingestion/ingestion/handler.py takes _settings from loader" in out


def test_infra_tests_break_the_rules_too_and_an_unparsable_file_is_passed_over(
    tool: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {
        "infra/pulumi/gpi_infra/__init__.py": "",
        "infra/pulumi/gpi_infra/stack_test.py": "from loader import ddl\n",
        "infra/pulumi/gpi_infra/py2.py": "print 'python 2'\n",
        "infra/pulumi/.venv/lib/site.py": "import loader\n",
    }
    out, err = printed(tool, tmp_path, capsys, files)
    assert "against the dependency rules: tests: infra -> loader (1 files)" in out
    assert "not read: infra/pulumi/gpi_infra/py2.py (SyntaxError)" in err


def test_a_folder_without_init_is_no_module(tool: ModuleType, tmp_path: Path) -> None:
    """A Pulumi project folder (infra/pulumi/snowflake/__main__.py) does not own `import snowflake.connector`."""
    tree = write(
        tmp_path,
        {
            "infra/pulumi/snowflake/__main__.py": "import pulumi\n",
            "services/loader/loader/__init__.py": "",
            "services/loader/loader/sf.py": "import snowflake.connector\n",
        },
    )
    edges, _ = tool.graph(tree)
    assert dict(edges[False]) == {}
