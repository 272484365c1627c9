"""The manifest that completes an ingestion run: the loader trusts only files listed in one."""

from __future__ import annotations

import datetime as dt
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from f1common.datasets import Dataset, Source
from f1common.layout import RUN_ID_RE, data_key, parse_data_key
from f1common.sessions import SessionId


class ManifestFile(BaseModel):
    model_config = ConfigDict(frozen=True)

    dataset: Dataset
    key: str = Field(description="S3 key of the Parquet file")
    rows: int = Field(ge=0)
    bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class MissingDataset(BaseModel):
    """A dataset the source did not provide (a soft failure, e.g. no weather for a session)."""

    model_config = ConfigDict(frozen=True)

    dataset: Dataset
    reason: str


class Manifest(BaseModel):
    model_config = ConfigDict(frozen=True)

    run_id: str
    source: Source
    session: SessionId | None = Field(default=None, description="The session of a FastF1 run")
    created_at: dt.datetime
    producer: str = Field(description="What wrote the run, e.g. 'ingestion'")
    source_version: str | None = Field(default=None, description="FastF1 version, or the dump's checksum")
    files: list[ManifestFile]
    missing: list[MissingDataset] = Field(default_factory=list)
    status: Literal["complete"] = "complete"

    @model_validator(mode="after")
    def _check(self) -> Manifest:
        if not RUN_ID_RE.match(self.run_id):
            raise ValueError(f"invalid run_id {self.run_id!r}")
        for f in self.files:
            landed = parse_data_key(f.key)
            if landed.run_id != self.run_id or landed.dataset != f.dataset:
                raise ValueError(f"file {f.key!r} does not belong to run {self.run_id} / dataset {f.dataset.value}")
            if self.session is not None and landed.key != data_key(f.dataset, self.run_id, session=self.session):
                raise ValueError(f"file {f.key!r} is not partitioned under the run's session {self.session.key}")
        return self

    def file_for(self, key: str) -> ManifestFile | None:
        return next((f for f in self.files if f.key == key), None)

    @property
    def rows(self) -> dict[str, int]:
        return {f.dataset.value: f.rows for f in self.files}

    def files_json(self) -> str:
        """The `files` list as JSON text, as it appears in the manifest (the warehouse's `load_manifests.files`)."""
        return json.dumps([f.model_dump(mode="json") for f in self.files])

    def to_json(self) -> bytes:
        return self.model_dump_json(indent=2).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Manifest:
        return cls.model_validate_json(data)
