"""Docker for the package tests: a daemon (the machine's, or one started here), the base image, functions.

Only host networking (to reach moto and the Runtime API on 127.0.0.1) or none is used; never a bridge.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from lambda_packages.runtime_api import RuntimeApi

REQUIRE_ENV = "GPI_REQUIRE_DOCKER"  # set by .ci/run: no Docker fails the tests instead of skipping them
_CANDIDATES = ("/usr/local/bin", "/usr/bin", "/usr/sbin", "/usr/local/sbin", "/bin", "/sbin")


def cache_dir() -> Path:
    base = os.environ.get("GPI_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gpi"
    return Path(base)


def find_tool(name: str) -> str | None:
    return shutil.which(name) or next((f"{d}/{name}" for d in _CANDIDATES if os.access(f"{d}/{name}", os.X_OK)), None)


class DockerUnavailable(RuntimeError):
    pass


@dataclass
class Docker:
    """A Docker CLI bound to one daemon."""

    cli: str
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 600, check: bool = True, input: bytes | None = None) -> str:
        proc = subprocess.run(
            [self.cli, *args], env=self.env, capture_output=True, timeout=timeout, input=input, check=False
        )
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"docker {' '.join(args[:3])} ... failed ({proc.returncode}):\n{proc.stderr.decode()[-4000:]}"
            )
        return proc.stdout.decode()

    def logs(self, container: str) -> str:
        proc = subprocess.run([self.cli, "logs", container], env=self.env, capture_output=True, timeout=60, check=False)
        return (proc.stdout + proc.stderr).decode(errors="replace")

    def reachable(self) -> bool:
        try:
            return (
                subprocess.run(
                    [self.cli, "version", "--format", "{{.Server.Version}}"],
                    env=self.env,
                    capture_output=True,
                    timeout=20,
                    check=False,
                ).returncode
                == 0
            )
        except subprocess.TimeoutExpired:
            return False


# Another package test run on this machine holds the data root: wait for it (its own timeout bounds it) this long.
LOCK_WAIT_SECONDS = 1500


def _lock_within(lock: IO[str], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError as busy:
            if time.monotonic() > deadline:
                message = f"{lock.name} stayed locked for {seconds:.0f} s (another package test run)"
                raise DockerUnavailable(message) from busy
            time.sleep(1)


def _die_with_parent() -> None:
    """In the dockerd child: SIGTERM it when the test process dies, even if killed (no orphan holds the data root)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@contextmanager
def docker_daemon() -> Iterator[Docker]:
    """The machine's daemon when one answers (DOCKER_HOST or the default socket), else a dockerd started here.

    The one started here uses `--bridge=none --iptables=false` (no networks are created), keeps its images in
    the cache dir (so the base image and build layers survive between runs) and is stopped by its pid.
    """
    cli = find_tool("docker")
    if cli is None:
        raise DockerUnavailable("no docker CLI (tools/install-system-deps installs Debian's docker.io)")
    env = {"PATH": os.pathsep.join(_CANDIDATES), "HOME": str(Path.home()), "DOCKER_CLI_HINTS": "false"}
    if os.environ.get("DOCKER_HOST"):
        env["DOCKER_HOST"] = os.environ["DOCKER_HOST"]
    machine = Docker(cli, env)
    if machine.reachable():
        yield machine
        return
    dockerd = find_tool("dockerd")
    if dockerd is None or os.geteuid() != 0:
        raise DockerUnavailable("no Docker daemon answers and dockerd cannot be started here (needs dockerd and root)")
    data_root = cache_dir() / "docker"
    data_root.mkdir(parents=True, exist_ok=True)
    with open(cache_dir() / "docker.lock", "w") as lock:
        _lock_within(lock, LOCK_WAIT_SECONDS)  # one daemon per data root
        run_dir = Path(tempfile.mkdtemp(prefix="gpi-dockerd-", dir="/tmp"))
        sock = run_dir / "docker.sock"
        log = open(run_dir / "dockerd.log", "wb")  # noqa: SIM115 (closed below)
        proc = subprocess.Popen(
            [
                dockerd,
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
                f"--host=unix://{sock}",
                f"--data-root={data_root}",
                f"--exec-root={run_dir / 'exec'}",
                f"--pidfile={run_dir / 'docker.pid'}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={"PATH": env["PATH"]},
            preexec_fn=_die_with_parent,
        )
        docker = Docker(cli, {**env, "DOCKER_HOST": f"unix://{sock}"})
        try:
            deadline = time.monotonic() + 60
            while not docker.reachable():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise DockerUnavailable(f"dockerd did not start: {(run_dir / 'dockerd.log').read_text()[-2000:]}")
                time.sleep(0.5)
            yield docker
        finally:
            # Untagged images older than an hour go (earlier package versions, their build cache); this run's stay
            # as the next run's cache.
            docker.run("image", "prune", "--force", "--filter", "until=1h", check=False)
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
            shutil.rmtree(run_dir, ignore_errors=True)


def base_image(docker: Docker, script: Path) -> str:
    """The local stand-in for python:3.11-slim-bookworm (tools/lambda-base-image), cached by content."""
    proc = subprocess.run(
        ["bash", str(script)],
        env={**docker.env, "GPI_CACHE_DIR": str(cache_dir())},
        capture_output=True,
        timeout=1200,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{script.name} failed:\n{proc.stderr.decode()[-3000:]}")
    return proc.stdout.decode().strip().splitlines()[-1]


@dataclass(frozen=True)
class Function:
    """One function as Lambda configures it."""

    name: str
    image: str
    memory_mb: int
    timeout_seconds: int
    ephemeral_storage_mb: int
    environment: Mapping[str, str]
    command: tuple[str, ...] = ()  # the image's CMD (the handler) or, for zips, the runtime's bootstrap
    mounts: tuple[tuple[Path, str], ...] = ()  # (host path, container path), read-only
    workdir: str | None = None
    # (host path, container path), writable: what Lambda mounts from EFS (at /mnt/...), e.g. the transformer's
    # DuckDB warehouse file's directory; the host path must be writable by the function's user.
    volumes: tuple[tuple[Path, str], ...] = ()


LAMBDA_USER = "993:990"  # not root, and with no home: Lambda runs functions as a user of its own


@dataclass(frozen=True)
class Container:
    """A running function: invoke it through its Runtime API, and look at what it wrote and logged."""

    docker: Docker
    id: str
    api: RuntimeApi
    mountpoints: frozenset[str] = frozenset()  # what Docker creates for the mounts before the file system is read-only

    def invoke(self, event: Any, *, wait_seconds: float | None = None) -> Any:
        return self.api.invoke(event, wait_seconds=wait_seconds)

    def files(self, root: str) -> list[str]:
        """Every file under `root` in the container (its /tmp: the tmpfs of Lambda's ephemeral storage)."""
        listing = self.docker.run(
            "exec",
            f"--user={LAMBDA_USER}",
            self.id,
            "python3",
            "-c",
            "import os, sys\nfor d, _, fs in os.walk(sys.argv[1]):\n    for f in fs: print(os.path.join(d, f))",
            root,
        )
        return sorted(listing.splitlines())

    def changed(self) -> list[str]:
        """`docker diff` less the mount points: what the function changed in its own file system (nothing can
        change there: it is read-only)."""
        return [
            line
            for line in self.docker.run("diff", self.id).splitlines()
            if line.split(" ", 1)[-1] not in self.mountpoints
        ]

    def logs(self) -> str:
        return self.docker.logs(self.id)


@contextmanager
def running(docker: Docker, function: Function, region: str) -> Iterator[Container]:
    """Starts the function's container against a local Runtime API; yields it (`invoke`, `files`, `changed`).

    As in Lambda: a read-only root file system with a writable /tmp of the ephemeral-storage size, the memory
    limit, a non-root user, the standard runtime environment variables; the container sees the host's 127.0.0.1.
    """
    arn = f"arn:aws:lambda:{region}:123456789012:function:{function.name}"
    with RuntimeApi(arn, function.timeout_seconds) as api:
        env = {
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "test",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "TZ": ":UTC",
            **function.environment,
        }
        args = [
            "run",
            "--detach",
            "--network=host",
            "--read-only",
            f"--tmpfs=/tmp:rw,exec,size={function.ephemeral_storage_mb}m",
            f"--memory={function.memory_mb}m",
            f"--user={LAMBDA_USER}",
            "--label=gpi-lambda-test=1",
        ]
        for key, value in env.items():
            args.append(f"--env={key}={value}")
        for host, target in function.mounts:
            args.append(f"--volume={host}:{target}:ro")
        for host, target in function.volumes:
            args.append(f"--volume={host}:{target}:rw")
        if function.workdir:
            args.append(f"--workdir={function.workdir}")
        container = docker.run(*args, function.image, *function.command).strip()
        try:
            targets = [PurePosixPath(t) for _, t in (*function.mounts, *function.volumes)]
            mountpoints = frozenset(str(p) for t in targets for p in (t, *t.parents) if str(p) != "/")
            yield Container(docker, container, api, mountpoints)
        except BaseException:
            print(f"--- logs of {function.name} ---\n{docker.logs(container)[-8000:]}")
            raise
        finally:
            docker.run("rm", "--force", container, check=False)
