"""The delivery workflows stay valid: their jobs, paths and commands exist, and a service's deploy touches that
service alone (its `--target` matches exactly its resources, with the engine's URN glob rules)."""

from __future__ import annotations

import os
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from gpi_infra.aws_stack import aws_program
from gpi_infra.config import AWS_PROJECT, AwsStackConfig
from gpi_infra.services import SERVICE_TYPES, service_target
from gpi_infra.testing import Stack, packages_for, run_program, snowflake_outputs, with_packages

ROOT = Path.cwd()  # the sandbox holds the files of //:delivery at their repository paths
WORKFLOWS = ROOT / ".github" / "workflows"
DEPLOY_WORKFLOW = "./.github/workflows/deploy.yml"
EXTERNAL_ACTIONS = {
    "actions/checkout": "v4",
    "actions/setup-python": "v5",
    "actions/cache": "v4",
    "actions/upload-artifact": "v4",
    "pulumi/actions": "v6",
    "aws-actions/configure-aws-credentials": "v4",
}
PANTS_GOALS = {"test", "lint", "check", "package", "fmt"}


def workflow(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return dict(data)


def all_workflows() -> dict[str, dict[str, Any]]:
    return {path.name: workflow(path.name) for path in sorted(WORKFLOWS.glob("*.yml"))}


def services_with_packages() -> list[str]:
    return sorted(p.parent.name for p in ROOT.glob("services/*/BUILD") if "service_lambda(" in p.read_text())


def path_filter(pattern: str) -> re.Pattern[str]:
    """A GitHub `paths` filter: `**` crosses directories, `*` does not."""
    parts = [re.escape(part).replace(r"\*", "[^/]*") for part in pattern.split("**")]
    return re.compile("^" + ".*".join(parts) + "$")


def repository_files() -> list[str]:
    return [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file()]


def run_commands(wf: dict[str, Any]) -> list[str]:
    return [step["run"] for job in wf["jobs"].values() for step in job.get("steps", []) if "run" in step]


def declared_targets(build_dir: Path) -> set[str]:
    text = (build_dir / "BUILD").read_text()
    names = set(re.findall(r'name="([^"]+)"', text))
    if "service_lambda(" in text:
        names.add("lambda")  # build-support/lambda.py's default name
    return names


# --- structure ----------------------------------------------------------------------------------------


def test_every_service_package_has_its_delivery_workflow() -> None:
    services = services_with_packages()
    assert services == sorted(SERVICE_TYPES)
    for service in services:
        wf = workflow(f"{service}.yml")
        push, pull = wf["on"]["push"], wf["on"]["pull_request"]
        assert push["branches"] == ["main"]
        assert push["paths"] == pull["paths"]
        for needed in (
            f"services/{service}/**",
            "libs/f1common/**",
            "build-support/**",
            f".github/workflows/{service}.yml",
            ".github/workflows/deploy.yml",
        ):
            assert needed in push["paths"], (service, needed)
        test = wf["jobs"]["test"]
        runs = [s["run"] for s in test["steps"] if "run" in s]
        assert f"./pants test lint check services/{service}:: libs/f1common::" in runs
        assert f"./pants package services/{service}:lambda" in runs
        assert f"tools/package-report dist/services.{service}/lambda.zip" in runs
        for job, event, action in (("preview", "pull_request", "preview"), ("deploy", "push", "up")):
            call = wf["jobs"][job]
            assert call["if"] == f"github.event_name == '{event}'"
            assert call["needs"] == "test"
            assert call["uses"] == DEPLOY_WORKFLOW
            assert call["with"]["action"] == action and call["with"]["what"] == service
            assert call["secrets"] == "inherit"


def test_infra_workflow_deploys_snowflake_then_the_whole_aws_stack() -> None:
    jobs = workflow("infra.yml")["jobs"]
    assert (jobs["deploy-snowflake"]["with"]["what"], jobs["deploy-aws"]["with"]["what"]) == ("snowflake", "aws")
    assert jobs["deploy-aws"]["needs"] == "deploy-snowflake"
    assert {jobs[j]["with"]["action"] for j in ("preview-snowflake", "preview-aws")} == {"preview"}


def test_grafana_workflow_deploys_the_grafana_stack_on_dashboard_changes() -> None:
    wf = workflow("grafana.yml")
    assert wf["on"]["push"]["paths"] == wf["on"]["pull_request"]["paths"]
    for needed in ("dashboards/**", "infra/pulumi/grafana/**", "infra/pulumi/gpi_infra/grafana*"):
        assert needed in wf["on"]["push"]["paths"], needed
    jobs = wf["jobs"]
    assert "./pants test lint check dashboards:: infra/pulumi::" in run_commands(wf)
    for job, event, action in (("preview", "pull_request", "preview"), ("deploy", "push", "up")):
        assert jobs[job]["if"] == f"github.event_name == '{event}'" and jobs[job]["needs"] == "test"
        assert jobs[job]["with"]["what"] == "grafana" and jobs[job]["with"]["action"] == action


def test_the_reusable_deploy_workflow_runs_the_deploy_script_with_its_inputs() -> None:
    wf = workflow("deploy.yml")
    call = wf["on"]["workflow_call"]
    assert set(call["inputs"]) == {"stage", "action", "what"}
    assert set(call["secrets"]) == {"PULUMI_ACCESS_TOKEN", "AWS_DEPLOY_ROLE_ARN"}
    [job] = wf["jobs"].values()
    assert job["permissions"]["id-token"] == "write"
    assert job["concurrency"] == {"group": "pulumi-${{ inputs.stage }}-${{ inputs.what }}", "cancel-in-progress": False}
    steps = job["steps"]
    assert any(s.get("uses", "").startswith("pulumi/actions@") and "with" not in s for s in steps)
    [aws] = [s for s in steps if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")]
    assert aws["with"]["role-to-assume"] == "${{ secrets.AWS_DEPLOY_ROLE_ARN }}"
    assert run_commands(wf) == ['infra/pulumi/deploy "${{ inputs.stage }}" "${{ inputs.action }}" "${{ inputs.what }}"']
    # Every caller passes a part the script knows.
    for name, other in all_workflows().items():
        for job_def in other["jobs"].values():
            if job_def.get("uses") == DEPLOY_WORKFLOW:
                assert job_def["with"]["what"] in {"snowflake", "aws", "grafana", *SERVICE_TYPES}, name
                assert job_def["with"]["action"] in {"preview", "up"}, name


def test_paths_actions_and_commands_exist() -> None:
    files = repository_files()
    for name, wf in all_workflows().items():
        for event in ("push", "pull_request"):
            for pattern in (wf["on"].get(event) or {}).get("paths", []):
                assert any(path_filter(pattern).match(f) for f in files), (name, pattern)
        for job in wf["jobs"].values():
            uses = [job["uses"]] if "uses" in job else [s["uses"] for s in job.get("steps", []) if "uses" in s]
            for action in uses:
                if action.startswith("./"):
                    assert (ROOT / action).is_file(), (name, action)
                else:
                    repo, version = action.split("@")
                    assert EXTERNAL_ACTIONS.get(repo) == version, (name, action)
        for command in run_commands(wf):
            check_command(name, command)


def check_command(workflow_name: str, command: str) -> None:
    words = shlex.split(command)
    program = words[0]
    if program == "./pants":
        goals = [w for w in words[1:] if w in PANTS_GOALS]
        specs = [w for w in words[1:] if w not in PANTS_GOALS]
        assert goals and specs, (workflow_name, command)
        for spec in specs:
            directory, _, target = spec.partition(":")
            assert (ROOT / directory / "BUILD").is_file(), (workflow_name, spec)
            if target and target != ":":
                assert target in declared_targets(ROOT / directory), (workflow_name, spec)
        return
    if program == "bash":
        program = words[1]
    path = ROOT / program
    assert path.is_file() and path.stat().st_mode & stat.S_IXUSR, (workflow_name, command)


def test_secrets_and_variables_are_documented() -> None:
    readme = (ROOT / "infra" / "pulumi" / "README.md").read_text()
    used: set[str] = set()
    for path in WORKFLOWS.glob("*.yml"):
        used |= set(re.findall(r"\$\{\{\s*(?:secrets|vars)\.([A-Z_]+)", path.read_text()))
    assert used == {"PULUMI_ACCESS_TOKEN", "AWS_DEPLOY_ROLE_ARN", "DEPLOY_STAGE"}
    for name in used:
        assert f"`{name}`" in readme, name


# --- one service alone --------------------------------------------------------------------------------


def engine_glob(pattern: str) -> re.Pattern[str]:
    """The engine's `--target` globs (pkg/resource/deploy UrnTargets): `**` matches anything, `*` no colon."""
    segments = ["[^:]*".join(re.escape(part) for part in segment.split("*")) for segment in pattern.split("**")]
    return re.compile("^" + ".*".join(segments) + "$")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    cfg = with_packages(
        AwsStackConfig(stage="dev", snowflake_stack="acme/gpi-snowflake/dev"), tmp_path_factory.mktemp("dist")
    )
    return run_program(lambda: aws_program(cfg, snowflake_outputs(), packages_for(cfg)), project=AWS_PROJECT)


def test_a_service_target_matches_exactly_that_services_resources(stack: Stack) -> None:
    matched: dict[str, set[str]] = {}
    for service, component in SERVICE_TYPES.items():
        pattern = engine_glob(service_target(component.TYPE, stack="dev"))
        matched[service] = {urn for urn in stack.urns if pattern.match(urn)}
        names = {urn.rsplit("::", 1)[1] for urn in matched[service]}
        # Its function(s) with role, policy and log group, and its image with repository and lifecycle.
        assert {service, f"{service}-role", f"{service}-policy", f"{service}-logs"} <= names, service
        if AwsStackConfig(stage="dev", snowflake_stack="o/p/s").functions[service].package_type == "image":
            assert {f"{service}-repository", f"{service}-lifecycle", f"{service}-image"} <= names, service
    assert "ingestion-schedules-group" in {u.rsplit("::", 1)[1] for u in matched["ingestion"]}
    assert {"loader-health", "loader-events"} <= {u.rsplit("::", 1)[1] for u in matched["loader"]}
    # No resource belongs to two services, and the shared ones to none.
    services = list(matched.values())
    assert all(a.isdisjoint(b) for i, a in enumerate(services) for b in services[i + 1 :])
    shared = set(stack.urns) - set().union(*services)
    shared_names = {urn.rsplit("::", 1)[1] for urn in shared}
    assert {"landing", "calendar", "loader-queue", "ingestion-dlq", "snowflake-loader-key"} <= shared_names
    for kind in ("aws:lambda/function:Function", "aws:ecr/repository:Repository", "docker-build:index:Image"):
        assert not any(f"${kind}::" in urn or f"::{kind}::" in urn for urn in shared), kind


def test_the_deploy_script_targets_one_service_and_waits_for_the_stack_lock(tmp_path: Path) -> None:
    """infra/pulumi/deploy with a stand-in `pulumi` that is busy once, then succeeds."""
    python = ROOT / "infra" / "pulumi" / ".venv" / "bin" / "python"
    if not python.exists():  # in the test sandbox: the test's own interpreter stands in for the Pulumi virtualenv
        python.parent.mkdir(parents=True)
        python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
        python.chmod(0o755)
    calls = tmp_path / "calls"
    fake = tmp_path / "bin" / "pulumi"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$*" >> {calls}\n'
        f'if [ "$(wc -l < {calls})" -eq 1 ]; then\n'
        '  echo "error: [409] Conflict: Another update is currently in progress."; exit 255\n'
        "fi\n"
    )
    fake.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{fake.parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "GPI_DEPLOY_RETRY_SECONDS": "0",
    }

    def deploy(*words: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "infra/pulumi/deploy", *words],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    proc = deploy("dev", "up", "loader")
    assert proc.returncode == 0, proc.stderr
    first, second = calls.read_text().splitlines()
    assert first == second
    assert shlex.split(first) == [
        "up",
        "--cwd",
        "infra/pulumi/aws",
        "--stack",
        "dev",
        "--policy-pack",
        f"{ROOT}/infra/pulumi/policy_pack",
        "--non-interactive",
        "--yes",
        "--skip-preview",
        "--target",
        service_target("gpi:aws:LoaderService", "*"),
    ]
    assert "busy with another update" in proc.stderr
    bad = deploy("dev", "up", "ingest")
    assert bad.returncode == 2 and "usage" in bad.stderr
