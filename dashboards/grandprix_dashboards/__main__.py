"""CLI: `python -m grandprix_dashboards build|upload|preview ...` (see --help)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from grandprix_dashboards import datasources
from grandprix_dashboards.build import DEFAULT_GRAFANA_DASHBOARDS_DIR, build
from grandprix_dashboards.catalog import dashboards


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grandprix_dashboards", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="write dashboard JSON and Grafana provisioning YAML")
    b.add_argument("--out", type=Path, required=True, help="output directory")
    b.add_argument(
        "--datasource",
        choices=datasources.CHOICES,
        default="both",
        help="duckdb, snowflake (Grafana Labs' plugin), michelin (open source), both (duckdb + " "snowflake) or all",
    )
    b.add_argument(
        "--grafana-dashboards-dir",
        default=DEFAULT_GRAFANA_DASHBOARDS_DIR,
        help="where Grafana will find the dashboards/ folder (dashboard provider path)",
    )

    u = sub.add_parser("upload", help="upload the dashboards to Grafana (env GRAFANA_URL, GRAFANA_TOKEN)")
    u.add_argument("--datasource", choices=datasources.CHOICES, default="snowflake")
    u.add_argument(
        "--create-datasource",
        action="store_true",
        help="also create/update the Snowflake datasource (env GPI_SNOWFLAKE_ACCOUNT, _USER, _ROLE, "
        "_WAREHOUSE, _DATABASE and the reporter's key file)",
    )
    u.add_argument(
        "--private-key-file", type=Path, help="the reporter's PKCS#8 PEM key (or $GPI_SNOWFLAKE_PRIVATE_KEY_FILE)"
    )
    u.add_argument(
        "--alert-email",
        help="also create the alert rules, a contact point mailing this address and " "the notification route",
    )

    p = sub.add_parser("preview", help="render every dashboard to HTML + PNG from a local DuckDB warehouse")
    p.add_argument("--warehouse", type=Path, required=True, help="DuckDB warehouse file (staging + analytics)")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--no-png", action="store_true", help="skip the Chromium screenshots")
    p.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="pick a variable's value, e.g. --var season=2023 --var 'event=Australian Grand Prix' "
        "(others as Grafana selects them on load)",
    )

    t = sub.add_parser("team-colours", help="regenerate team_colours.json from a DuckDB warehouse")
    t.add_argument("--warehouse", type=Path, required=True, help="DuckDB warehouse file (analytics marts)")

    sub.add_parser("compound-colours", help="regenerate compound_colours.json from FastF1's plotting module")
    return parser


def _pairs(items: Sequence[str]) -> dict[str, str]:
    pairs = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--var {item!r}: expected NAME=VALUE")
        pairs[name.strip()] = value
    return pairs


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "build":
            result = build(args.out, datasources.select(args.datasource), args.grafana_dashboards_dir)
            for path in [*result.dashboards, *result.provisioning]:
                print(path)
        elif args.command == "upload":
            from grandprix_dashboards.upload import access_from_env, api_from_env, upload

            access = access_from_env(key_file=args.private_key_file) if args.create_datasource else None
            for saved in upload(
                api_from_env(), datasources.select(args.datasource), access=access, alert_email=args.alert_email
            ):
                print(f"{saved.kind} {saved.uid} {saved.detail}")
        elif args.command == "preview":
            from grandprix_dashboards.preview import preview, values_summary

            chosen = _pairs(args.var)
            for dash in preview(args.warehouse, args.out, dashboards(), png=not args.no_png, chosen=chosen):
                print(f"{dash.html_path} {dash.png_path or ''} [{values_summary(dash.texts)}]")
            print(args.out / "index.html")
        elif args.command == "team-colours":
            from grandprix_dashboards.team_colours import colours_from_warehouse, write_colours

            if not args.warehouse.is_file():
                raise FileNotFoundError(f"no warehouse at {args.warehouse}")
            print(write_colours(colours_from_warehouse(args.warehouse)))
        elif args.command == "compound-colours":
            from grandprix_dashboards import compound_colours

            print(compound_colours.write_colours(compound_colours.colours_from_fastf1()))
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
