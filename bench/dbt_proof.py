"""Builds the dev warehouse from every cached FastF1 session and prints the dbt proof figures.

    ./pants run bench/dbt_proof.py -- --out "$PWD/.local/dev-warehouse.duckdb"

Lands and loads Ergast, the schedules and all cached sessions (the offline catalogue) but the last through
the project's ingestion and loader on the embedded stack (`grandprix_local.harness`), runs a full
`dbt build`, then lands one more session and runs `dbt build` again (incremental). Prints, as JSON: both
build times, the 2023 driver standings top 5 after the final round, the row count of each fact and the
rows the incremental run touched, the standings models' build times and the standings' match with the
official tables.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from dbt_runner.runner import run_dbt
from dbt_tests.standings_reference import verify_warehouse
from f1common.settings import Settings
from grandprix_local.harness import cached_sessions, embedded_stack

FACTS = ("fct_laps", "fct_race_results", "fct_weather", "fct_pit_stops", "fct_race_control")
STANDINGS = (
    "int_championship__driver_rounds",
    "int_championship__constructor_rounds",
    "mart_driver_standings",
    "mart_constructor_standings",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/dbt_proof.py", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="where to write the built DuckDB warehouse")
    args = parser.parse_args(argv)
    sessions = [s.key for s in cached_sessions(Settings())]
    *initial, new = sessions
    proof: dict[str, Any] = {"initial_sessions": len(initial), "new_session": new}
    with tempfile.TemporaryDirectory(prefix="gpi-dbt-proof-") as tmp:
        work = Path(tmp)
        with embedded_stack(work, notifications=False) as landing:
            started = time.perf_counter()
            landing.land_ergast()
            landing.land_schedules(int(s[:4]) for s in sessions)
            for session in initial:
                landing.land_session(session)
            landing.load_new_files()
            proof["ingest_and_load_s"] = round(time.perf_counter() - started, 1)
            full = run_dbt(["build"], warehouse_path=landing.path, artifacts_dir=work)
            proof["full_build_s"] = round(full.elapsed_s, 1)
            landing.land_session(new)
            landing.load_new_files()
            incremental = run_dbt(["build"], warehouse_path=landing.path, artifacts_dir=work)
            proof["incremental_build_s"] = round(incremental.elapsed_s, 1)
            proof["nodes"] = len(full.nodes)
            proof["fact_model_seconds"] = {
                f: {
                    "full": round(full.node(f"model.grandprix_insights.{f}").execution_time_s, 2),
                    "incremental": round(incremental.node(f"model.grandprix_insights.{f}").execution_time_s, 2),
                }
                for f in FACTS
            }
            proof["standings_model_seconds"] = {
                m: round(full.node(f"model.grandprix_insights.{m}").execution_time_s, 2) for m in STANDINGS
            }
            with duckdb.connect(str(landing.path), read_only=True) as con:
                proof.update(_figures(con, incremental.invocation_id or ""))
            proof["standings_vs_official_tables"] = {c: r.as_dict() for c, r in verify_warehouse(landing.path).items()}
            args.out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(landing.path, args.out)
    print(json.dumps(proof, indent=2))
    return 0


def _figures(con: duckdb.DuckDBPyConnection, invocation_id: str) -> dict[str, Any]:
    top5 = con.execute(
        """select position, driver_code, driver_name, cumulative_points, wins from analytics.mart_driver_standings
           where season = 2023 and round = (select max(round) from analytics.mart_driver_standings where season = 2023)
           order by position limit 5"""
    ).fetchall()
    counts = {f: con.execute(f"select count(*) from analytics.{f}").fetchone()[0] for f in FACTS}  # type: ignore[index]
    touched = {
        f: dict(
            con.execute(
                f"select session_key, count(*) from analytics.{f} where _dbt_invocation_id = $1 group by 1",
                [invocation_id],
            ).fetchall()
        )
        for f in FACTS
    }
    return {"driver_standings_2023_final_top5": top5, "fact_rows": counts, "incremental_touched": touched}


if __name__ == "__main__":
    raise SystemExit(main())
