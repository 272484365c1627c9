"""The S3 landing-zone key layout, one function each way.

Data files use Hive-style partitions and carry the run id in the file name, so a path is written
once and never again (Snowpipe never reloads a path it has loaded)::

    dataset=laps/season=2023/round=01/session=R/laps-20231126T013000Z-1a2b3c4d.parquet
    dataset=schedule/season=2025/schedule-20231126T013000Z-1a2b3c4d.parquet
    dataset=ergast_results/ergast_results-20231126T013000Z-1a2b3c4d.parquet

Each ingestion run ends by writing its manifest, which lists the run's files and marks it complete::

    manifests/20231126T013000Z-1a2b3c4d.json
"""

from __future__ import annotations

import datetime as dt
import re
import secrets

from pydantic import BaseModel, ConfigDict

from f1common.clock import utc_iso, utc_now
from f1common.datasets import Dataset, Partition, dataset_spec
from f1common.errors import bounded
from f1common.sessions import SessionId, SessionType

DATA_PREFIX = "dataset="
MANIFEST_PREFIX = "manifests/"
ORPHAN_MARKER_PREFIX = "markers/orphans/"  # markers/orphans/<run_id>.json: a run's files no manifest will list
SCHEDULE_MARKER_PREFIX = "markers/schedule/"  # markers/schedule/<season>.json: the season's last landed schedule

# Every data file is written tagged `gpi-publication=pending` and re-tagged `published` just before its run's
# manifest is written; the landing bucket's lifecycle rule expires pending files after ORPHAN_EXPIRY_DAYS
# (the files of a run that died, or lost its claim, before publishing).
PUBLICATION_TAG = "gpi-publication"
PENDING = "pending"
PUBLISHED = "published"
ORPHAN_EXPIRY_DAYS = 14

# ASCII digits only (`\d` takes any Unicode digit), and the whole string: `$` also matches before a trailing
# newline, so RUN_ID_RE is anchored with \A...\Z and the keys are matched whole (fullmatch).
_RUN_ID = r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}"
RUN_ID_RE = re.compile(rf"\A{_RUN_ID}\Z")
_DATA_KEY_RE = re.compile(
    r"dataset=(?P<dataset>[a-z_]+)/"
    r"(?:season=(?P<season>[0-9]{4})/)?"
    r"(?:round=(?P<round>[0-9]{2})/session=(?P<session>[A-Z0-9]+)/)?"
    rf"(?P<stem>[a-z_]+)-(?P<run_id>{_RUN_ID})\.parquet"
)
_MANIFEST_KEY_RE = re.compile(rf"manifests/(?P<run_id>{_RUN_ID})\.json")


class LandedKey(BaseModel):
    """A parsed data-file key."""

    model_config = ConfigDict(frozen=True)

    dataset: Dataset
    run_id: str
    season: int | None = None
    round: int | None = None
    session: SessionType | None = None

    @property
    def session_id(self) -> SessionId | None:
        if self.season is None or self.round is None or self.session is None:
            return None
        return SessionId(season=self.season, round=self.round, session=self.session)

    @property
    def partition_values(self) -> dict[str, int | str]:
        """The value of each partition column (:attr:`Partition.columns`) the file's rows must all hold."""
        values = {"season": self.season, "round": self.round, "session": self.session.code if self.session else None}
        columns = dataset_spec(self.dataset).partition.columns
        return {column: value for column in columns if (value := values[column]) is not None}

    @property
    def key(self) -> str:
        return data_key(self.dataset, self.run_id, session=self.session_id, season=self.season)

    @property
    def manifest_key(self) -> str:
        return manifest_key(self.run_id)


def run_id_time(when: dt.datetime) -> str:
    """The time part of run ids started at `when` (`20231126T013000Z`): the compact form of the ISO format."""
    return utc_iso(when).replace("-", "").replace(":", "")


def new_run_id(now: dt.datetime | None = None) -> str:
    """A unique, time-sortable run id: `20231126T013000Z-1a2b3c4d`."""
    return f"{run_id_time(now or utc_now())}-{secrets.token_hex(4)}"


def _check_run_id(run_id: str) -> None:
    if not RUN_ID_RE.fullmatch(run_id):
        raise ValueError(f"invalid run id {run_id!r}; expected e.g. '20231126T013000Z-1a2b3c4d' (see new_run_id)")


def data_key(
    dataset: Dataset | str, run_id: str, *, session: SessionId | None = None, season: int | None = None
) -> str:
    """Builds the key of one landed data file; the partition columns required depend on the dataset."""
    spec = dataset_spec(dataset)
    _check_run_id(run_id)
    name = spec.name
    if spec.partition is Partition.SESSION:
        if session is None:
            raise ValueError(f"dataset {name!r} is partitioned by session: pass session=SessionId(...)")
        prefix = f"season={session.season:04d}/round={session.round:02d}/session={session.session.code}/"
    elif spec.partition is Partition.SEASON:
        season = season if season is not None else (session.season if session else None)
        if season is None:
            raise ValueError(f"dataset {name!r} is partitioned by season: pass season=YYYY")
        prefix = f"season={season:04d}/"
    else:
        prefix = ""
    return f"{DATA_PREFIX}{name}/{prefix}{name}-{run_id}.parquet"


def parse_data_key(key: str) -> LandedKey:
    """Parses a data-file key built by :func:`data_key`; raises ValueError naming what is wrong."""
    match = _DATA_KEY_RE.fullmatch(key)
    if match is None:
        raise ValueError(f"not a landing-zone data key: {bounded(key)}")
    spec = dataset_spec(match["dataset"])
    if match["stem"] != spec.name:
        raise ValueError(f"file name {match['stem']!r} does not match dataset {spec.name!r} in {bounded(key)}")
    has_season, has_session = match["season"] is not None, match["session"] is not None
    expected = {Partition.SESSION: (True, True), Partition.SEASON: (True, False), Partition.NONE: (False, False)}
    if (has_season, has_session) != expected[spec.partition]:
        raise ValueError(f"dataset {spec.name!r} is partitioned by {spec.partition.value}, key {bounded(key)} is not")
    parsed = LandedKey(
        dataset=spec.dataset,
        run_id=match["run_id"],
        season=int(match["season"]) if has_season else None,
        round=int(match["round"]) if has_session else None,
        session=SessionType.parse(match["session"]) if has_session else None,
    )
    if has_session:
        parsed.session_id  # noqa: B018  (validates season and round ranges)
    return parsed


def orphan_marker_key(run_id: str) -> str:
    _check_run_id(run_id)
    return f"{ORPHAN_MARKER_PREFIX}{run_id}.json"


def manifest_key(run_id: str) -> str:
    _check_run_id(run_id)
    return f"{MANIFEST_PREFIX}{run_id}.json"


def parse_manifest_key(key: str) -> str:
    """Returns the run id of a manifest key."""
    match = _MANIFEST_KEY_RE.fullmatch(key)
    if match is None:
        raise ValueError(f"not a manifest key: {bounded(key)}")
    return match["run_id"]


def is_manifest_key(key: str) -> bool:
    return _MANIFEST_KEY_RE.fullmatch(key) is not None
