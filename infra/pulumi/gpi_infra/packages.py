"""The services' Pants packages as the AWS stack deploys them: built (by `pants package`), found, fingerprinted.

`pulumi up` in aws/ runs Pants itself (`buildPackages`, default true), so a deployment needs no build step of
its own; Pants only rebuilds what changed. An image's tag is the fingerprint of everything the image is built
from (the package zip, the Dockerfile, the base image), so the repository's tags can be immutable.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from gpi_infra.config import FunctionSettings, PackageType

REPO_ROOT = Path(__file__).resolve().parents[3]
# The Dockerfile of every image package (build-support/lambda.py); its build context is the package's directory.
LAMBDA_DOCKERFILE = REPO_ROOT / "build-support" / "lambda.Dockerfile"


@dataclass(frozen=True)
class ServicePackage:
    service: str
    package_type: PackageType
    zip_path: Path
    fingerprint: str  # sha256 hex of what the code is made from
    dockerfile: Path | None = None  # image packages only

    @property
    def image_tag(self) -> str:
        return self.fingerprint[:20]


def pants_targets(services: Iterable[str]) -> list[str]:
    return [f"services/{service}:lambda" for service in services]


def build_with_pants(services: Iterable[str], repo_root: Path = REPO_ROOT) -> None:
    """`./pants package` of the services' Lambda targets (a no-op for those that did not change)."""
    command = [str(repo_root / "pants"), "package", *pants_targets(services)]
    proc = subprocess.run(command, cwd=repo_root, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command[1:])} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")


def fingerprint(files: Iterable[Path], *extra: str) -> str:
    digest = hashlib.sha256()
    for path in files:
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    for value in extra:
        digest.update(value.encode() + b"\0")
    return digest.hexdigest()


def locate(
    functions: Mapping[str, FunctionSettings],
    project_dir: Path,
    *,
    base_image: str,
    dockerfile: Path = LAMBDA_DOCKERFILE,
) -> dict[str, ServicePackage]:
    """Each service's package as configured (`functions.<svc>.package`, relative to the project dir)."""
    found: dict[str, ServicePackage] = {}
    for service, settings in functions.items():
        path = (project_dir / settings.package).resolve()
        if not path.is_file():
            raise FileNotFoundError(
                f"no package for {service} at {path}: run `./pants package services/{service}:lambda` "
                "(or leave gpi-aws:buildPackages on)"
            )
        if settings.package_type == "image":
            found[service] = ServicePackage(
                service, "image", path, fingerprint([path, dockerfile], base_image), dockerfile=dockerfile
            )
        else:
            found[service] = ServicePackage(service, "zip", path, fingerprint([path]))
    return found
