"""Which landed runs are wholly in staging: the manifest loaded, and each file it lists loaded or quarantined.

The transformer queue hears of a run when its manifest lands in S3, which may be before the loader (or
Snowpipe) has loaded it; a build then would not see the run. A run not yet in staging is retried later
(its message returns to the queue) instead of being dropped. "Loaded" is the staging models' rule
(stg_landing__runs): every row the manifest lists for the file is in its staging table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from f1common.datasets import Dataset, dataset_spec
from f1common.layout import RUN_ID_RE
from f1common.warehouse import FILE_NAME, LOAD_MANIFESTS, LOAD_QUARANTINE, ROW_NUMBER, RUN_ID, staging_relation


def pending_runs(con: Any, run_ids: Iterable[str]) -> set[str]:
    """The runs among `run_ids` that are not wholly in staging (`con`: DB-API, qmark parameters)."""
    wanted = sorted(set(run_ids))
    for run_id in wanted:
        if not RUN_ID_RE.match(run_id):  # parsed from manifest keys already: a second, cheap fence
            raise ValueError(f"not a run id: {run_id[:64]!r}")
    if not wanted:
        return set()
    marks = ", ".join("?" for _ in wanted)

    def rows(sql: str) -> list[Any]:
        return list(con.execute(sql, wanted).fetchall())

    listed: dict[str, list[tuple[Dataset, str, int]]] = {}
    manifests = f"select run_id, files from {staging_relation(LOAD_MANIFESTS)} where run_id in ({marks})"
    for run_id, files in rows(manifests):
        entries = json.loads(files) if isinstance(files, str) else files
        listed[str(run_id)] = [(Dataset(f["dataset"]), str(f["key"]), int(f["rows"])) for f in entries]
    quarantined = {
        str(name)
        for (name,) in rows(
            f"select distinct file_name from {staging_relation(LOAD_QUARANTINE)} where run_id in ({marks})"
        )
    }
    loaded: dict[str, int] = {}
    for dataset in sorted({d for files in listed.values() for d, _, _ in files}, key=lambda d: d.value):
        table = dataset_spec(dataset).staging_table.lower()
        for name, count in rows(
            f"select {FILE_NAME}, count(distinct {ROW_NUMBER}) from {staging_relation(table)} "
            f"where {RUN_ID} in ({marks}) group by {FILE_NAME}"
        ):
            loaded[str(name)] = int(count)
    return {
        run_id
        for run_id in wanted
        if run_id not in listed
        or any(loaded.get(key, 0) != rows_ and key not in quarantined for _, key, rows_ in listed[run_id])
    }
