"""The same ingestion request delivered 5 times, one after the other and concurrently, and every S3
notification delivered again 5 times: one run lands, each file loads once, and dbt's facts have each
lap once. A concurrent delivery while the winner runs fails (its claim is held: retried later), never
answers DUPLICATE before a complete run exists."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from f1common.sessions import SessionId
from grandprix_local.harness import NATURAL_KEYS, EmbeddedStack, run_dbt_facts
from ingestion.ingest import ClaimHeld
from ingestion.records import ClaimLost

SEQUENTIAL = "2023-01-R"
CONCURRENT = "2025-01-R"


def test_five_deliveries_land_once_and_load_once(stack: EmbeddedStack) -> None:
    stack.pipeline.sync_calendar([SessionId.parse(SEQUENTIAL), SessionId.parse(CONCURRENT)])

    sequential = [stack.ingest(SEQUENTIAL)["status"] for _ in range(5)]
    assert sequential == ["ingested"] + ["duplicate"] * 4

    def deliver(_: int) -> dict[str, Any]:
        try:
            return stack.ingest(CONCURRENT)
        except (ClaimHeld, ClaimLost) as exc:  # another delivery holds the claim: this one fails, to be retried
            return {"status": "failed", "run_id": None, "error": type(exc).__name__}

    with ThreadPoolExecutor(max_workers=5) as pool:
        concurrent = list(pool.map(deliver, range(5)))
    statuses = sorted(o["status"] for o in concurrent)
    assert statuses.count("ingested") == 1 and set(statuses) <= {"ingested", "duplicate", "failed"}, concurrent
    winner = next(o["run_id"] for o in concurrent if o["status"] == "ingested")
    assert {o["run_id"] for o in concurrent} - {None} == {winner}  # the duplicates name the complete run
    assert [stack.ingest(CONCURRENT)["run_id"] for _ in range(2)] == [winner] * 2  # the retries: duplicates

    with ThreadPoolExecutor(max_workers=5) as pool:  # a finished session stays finished
        again = list(pool.map(lambda _: stack.ingest(SEQUENTIAL)["status"], range(5)))
    assert again == ["duplicate"] * 5

    manifests = stack.manifests()
    assert sorted(m.session.key for m in manifests.values() if m.session) == sorted([SEQUENTIAL, CONCURRENT])
    report = stack.drain()
    assert report.counts["loaded"] == sum(len(m.files) for m in manifests.values())
    assert report.counts["quarantined"] == 0

    snapshot = _staging(stack)
    stack.redeliver(stack.keys(), times=5)
    report = stack.drain()
    assert report.counts["loaded"] == 0 and report.rows_loaded == 0
    assert report.counts["skipped"] > 0
    assert _staging(stack) == snapshot

    for manifest in manifests.values():
        for entry in manifest.files:
            assert stack.query("select rows from staging.load_history where file_name = ?", entry.key) == [
                (entry.rows,)
            ]
    for table in NATURAL_KEYS:
        assert stack.duplicates(table) == 0, table
    for key in (SEQUENTIAL, CONCURRENT):
        session = SessionId.parse(key)
        runs = stack.query(
            "select count(distinct _run_id) from staging.laps_staging where season = ? and round = ? and session = ?",
            session.season,
            session.round,
            session.session.code,
        )
        assert runs == [(1,)]

    # dbt builds the facts twice (the second one incrementally): each staged lap is one fact row
    for _ in range(2):
        run_dbt_facts(stack.warehouse, stack.warehouse.parent / "dbt")
        assert stack.query("select count(*), count(distinct lap_id) from analytics.fct_laps") == [
            (snapshot["laps_staging"], snapshot["laps_staging"])
        ]


def _staging(stack: EmbeddedStack) -> dict[str, int]:
    tables = [*NATURAL_KEYS, "load_history"]
    return {t: int(stack.query(f"select count(*) from staging.{t}")[0][0]) for t in tables}
