"""Variable interpolation and the per-dialect SQL."""

from __future__ import annotations

import pytest

from grandprix_dashboards.catalog import dashboards
from grandprix_dashboards.sql import DUCKDB, SNOWFLAKE, UnknownVariable, interpolate, quote, render, variables_in

SAMPLE = {"season": ["2025"], "event": ["Miami Grand Prix"], "session": ["R"], "driver": ["VER", "NOR"]}


def test_interpolate_formats_like_grafana() -> None:
    sql = "where season = ${season:raw} and e = ${event:sqlstring} and d in (${driver:sqlstring}) and s = $season"
    assert interpolate(sql, SAMPLE) == (
        "where season = 2025 and e = 'Miami Grand Prix' and d in ('VER','NOR') and s = 2025"
    )
    assert interpolate("x = ${event:sqlstring}", {"event": ["Driver's GP"]}) == "x = 'Driver''s GP'"
    assert quote("a'b") == "'a''b'"


def test_interpolate_rejects_unknown_variables_and_formats() -> None:
    with pytest.raises(UnknownVariable, match=r"\$team"):
        interpolate("select ${team:sqlstring}", SAMPLE)
    with pytest.raises(ValueError, match="unsupported format 'regex'"):
        interpolate("select ${season:regex}", SAMPLE)


def test_dialect_dispatch_differs_only_where_needed() -> None:
    assert "date_diff('second'" in DUCKDB.hours_since("t") and "datediff(second" in SNOWFLAKE.hours_since("t")
    assert "interval '8 hours'" in DUCKDB.hours_before_now(8)
    assert SNOWFLAKE.hours_before_now(8) == "dateadd(hour, -8, current_timestamp())"


def test_every_query_uses_only_its_dashboards_variables() -> None:
    """(Execution in both dialects is in queries_test, against a real-data warehouse.)"""
    for spec in dashboards():
        defined = {v.name for v in spec.variables}
        sources = [(f"variable {v.name}", v.query) for v in spec.variables] + [(p.title, p.sql) for p in spec.panels]
        for name, source in sources:
            for dialect in (DUCKDB, SNOWFLAKE):
                sql = render(source, dialect)
                assert set(variables_in(sql)) <= defined, f"{spec.title} / {name}: undefined variable"
                values = {k: v for k, v in SAMPLE.items() if k in defined}
                assert "$" not in interpolate(sql, values), f"{spec.title} / {name}: variable left in the SQL"
