"""Panel query timings of every dashboard on a local DuckDB warehouse, for the default variable values.

    python bench/dashboards_bench.py --warehouse .local/dev-warehouse.duckdb [--repeat 20] [--budget-ms 200]

Runs each panel's SQL (and each variable query) `--repeat` times after one warm-up, and prints p50/p95
per query and over all runs. Exits 1 when the overall p95 exceeds the budget.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from grandprix_dashboards.catalog import dashboards
from grandprix_dashboards.query import Warehouse, resolve_variables, run_panel, variable_options


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, default=Path(".local/dev-warehouse.duckdb"))
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--budget-ms", type=float, default=200.0)
    parser.add_argument("--json", type=Path, help="also write the timings as JSON here")
    args = parser.parse_args(argv)

    rows: list[dict[str, object]] = []
    every: list[float] = []
    with Warehouse(args.warehouse) as wh:
        for spec in dashboards():
            values = resolve_variables(wh, spec)
            queries: list[tuple[str, Callable[[], object]]] = [
                (f"${v.name}", partial(variable_options, wh, spec, v, values)) for v in spec.variables
            ]
            queries += [(p.title, partial(run_panel, wh, spec, p, values)) for p in spec.panels]
            for name, run in queries:
                run()  # warm-up
                times = [_timed(run) for _ in range(args.repeat)]
                every += times
                rows.append(
                    {
                        "dashboard": spec.title,
                        "query": name,
                        "p50_ms": statistics.median(times),
                        "p95_ms": percentile(times, 95),
                        "max_ms": max(times),
                    }
                )
    width = max(len(f"{r['dashboard']} / {r['query']}") for r in rows)
    print(f"{'query':<{width}}  {'p50 ms':>8}  {'p95 ms':>8}  {'max ms':>8}")
    for r in rows:
        print(
            f"{r['dashboard']} / {r['query']:<{width - len(str(r['dashboard'])) - 3}}  "
            f"{r['p50_ms']:8.1f}  {r['p95_ms']:8.1f}  {r['max_ms']:8.1f}"
        )
    p50, p95 = statistics.median(every), percentile(every, 95)
    print(
        f"\nall {len(every)} runs of {len(rows)} queries: p50 {p50:.1f} ms, p95 {p95:.1f} ms "
        f"(budget {args.budget_ms:.0f} ms), warehouse {args.warehouse}"
    )
    if args.json:
        args.json.write_text(json.dumps({"queries": rows, "p50_ms": p50, "p95_ms": p95}, indent=2))
    return 0 if p95 <= args.budget_ms else 1


def _timed(run: Callable[[], object]) -> float:
    """Wall time of one query including fetching and converting its rows, in ms."""
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) * 1000


if __name__ == "__main__":
    sys.exit(main())
