"""`grandprix` command line: `grandprix local run` runs the whole pipeline on the embedded stack.

./pants run local:grandprix -- local run            # what `make demo` runs
./pants run local:grandprix -- local run --seasons 2023 2025 --fresh
./pants run local:grandprix -- local alerts --season 2025   # the laps the pace-change alert fires on
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from f1common.sessions import SessionId


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="grandprix", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="group", required=True)
    local = sub.add_parser("local", help="the embedded local stack").add_subparsers(dest="command", required=True)
    run = local.add_parser("run", help="run the whole pipeline end to end")
    run.add_argument("--state-dir", type=Path, default=Path(".local"), help="state kept between runs (default .local)")
    run.add_argument("--seasons", type=int, nargs="*", help="limit to these seasons (default: all in the data)")
    run.add_argument(
        "--sessions", nargs="*", help="session keys to replay, e.g. 2023-01-R (default: all the FastF1 cache serves)"
    )
    run.add_argument("--data-dir", type=Path, help="the shared F1 data directory (default: ../shared/f1data)")
    run.add_argument("--fresh", action="store_true", help="forget the previous runs' state first")
    run.add_argument("--no-dashboards", action="store_true", help="skip the dashboards and their preview")
    run.add_argument(
        "--concurrency", type=int, help="ingestions run at once by the local dispatcher (default: the number of cores)"
    )
    alerts = local.add_parser("alerts", help="evaluate the pace-change alert rule on every race of the warehouse")
    alerts.add_argument("--state-dir", type=Path, default=Path(".local"), help="state of `local run` (default .local)")
    alerts.add_argument("--season", type=int, help="only this season's races and sprints")
    return parser


def _alerts(state_dir: Path, season: int | None) -> int:
    from grandprix_dashboards.alert_eval import firing_laps, instances_for, races
    from grandprix_dashboards.query import Warehouse

    path = state_dir / "warehouse.duckdb"
    if not path.is_file():
        print(f"error: no warehouse at {path}: run `grandprix local run` first", file=sys.stderr)
        return 2
    with Warehouse(path) as wh:
        keys = races(wh, season)
        total = 0
        for key in keys:
            laps = firing_laps(wh, key)
            total += len(laps)
            event = f" {laps[0].event}" if laps else ""
            print(f"{key}{event}: {len(laps)} firing lap(s)")
            for lap in laps:
                print(
                    f"  lap {lap.lap:>2}  {lap.driver:<3} {lap.team:<24} +{lap.delta_s:.3f} s "
                    f"(two laps >= +{lap.drop_s:.3f} s)"
                )
            for instance in instances_for(wh, key):
                print(f"  alert: {instance.summary}")
    print(f"{len(keys)} race(s), {total} firing lap(s)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.group == "local" and args.command == "run":
        from grandprix_local.run import RunOptions, run_local

        options = RunOptions(
            state_dir=args.state_dir,
            seasons=args.seasons,
            sessions=[SessionId.parse(k) for k in args.sessions] if args.sessions else None,
            data_dir=args.data_dir,
            fresh=args.fresh,
            dashboards=not args.no_dashboards,
            concurrency=args.concurrency,
        )
        summary = run_local(options)
        return 0 if summary.ok else 1
    if args.group == "local" and args.command == "alerts":
        return _alerts(args.state_dir, args.season)
    return 2


if __name__ == "__main__":
    sys.exit(main())
