"""The transformer's memory between runs, in S3: what the last successful build saw, and of which project.

`dbt_runner.selection` keeps the staging state of the last successful build in a small file of its
artifacts directory; a Lambda's disk does not outlive it, so the files live under `transformer/` in the
landing bucket (no notification reads that prefix) and are copied in before a build and out after it.
A lost state is safe: the next build is a full one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbt_runner.runner import project_fingerprint
from dbt_runner.selection import STATE_FILE
from f1common.transform import TRANSFORMER_STATE_PREFIX

STATE_PREFIX = TRANSFORMER_STATE_PREFIX
FINGERPRINT_FILE = "project.sha256"
FILES = (STATE_FILE, FINGERPRINT_FILE)
__all__ = ["FILES", "FINGERPRINT_FILE", "STATE_PREFIX", "StateStore", "project_fingerprint"]


@dataclass(frozen=True)
class StateStore:
    s3: Any
    bucket: str
    prefix: str = STATE_PREFIX

    def fetch(self, artifacts_dir: Path) -> None:
        """Copies the stored files into `artifacts_dir` (and removes local ones the store does not have)."""
        artifacts_dir.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            local = artifacts_dir / name
            try:
                body = self.s3.get_object(Bucket=self.bucket, Key=f"{self.prefix}{name}")["Body"].read()
            except self.s3.exceptions.NoSuchKey:
                local.unlink(missing_ok=True)
                continue
            local.write_bytes(body)

    def store(self, artifacts_dir: Path) -> None:
        """Copies the files a successful build left in `artifacts_dir` to the store."""
        for name in FILES:
            local = artifacts_dir / name
            if local.is_file():
                self.s3.put_object(Bucket=self.bucket, Key=f"{self.prefix}{name}", Body=local.read_bytes())
