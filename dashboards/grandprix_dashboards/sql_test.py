"""Variable interpolation and the per-dialect SQL."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest
import sqlglot
from sqlglot.tokens import TokenType

from grandprix_dashboards.catalog import dashboards
from grandprix_dashboards.sql import (
    DUCKDB,
    SAFE_KEY,
    SNOWFLAKE,
    Dialect,
    UnknownVariable,
    interpolate,
    percent_encode,
    quote,
    render,
    selected,
    unsafe_variables,
    variables_in,
)

SAMPLE = {"season": ["2025"], "event": ["6"], "session": ["R"], "driver": ["VER", "NOR"]}


def test_interpolate_formats_like_grafana() -> None:
    sql = "where season = ${season:raw} and e = ${event:sqlstring} and d in (${driver:sqlstring}) and s = $season"
    assert interpolate(sql, {**SAMPLE, "event": ["Miami Grand Prix"]}) == (
        "where season = 2025 and e = 'Miami Grand Prix' and d in ('VER','NOR') and s = 2025"
    )
    assert interpolate("x = ${event:sqlstring}", {"event": ["Driver's GP"]}) == "x = 'Driver''s GP'"
    assert quote("a'b") == "'a''b'" and quote('a"b') == "'a\\\"b'"
    # Grafana's own examples: encodeURIComponent, then !'()* too
    assert interpolate("${x:percentencode}", {"x": ["foo()bar BAZ", "test2"]}) == "%7Bfoo%28%29bar%20BAZ%2Ctest2%7D"
    assert percent_encode("2023' or 1=1 --") == "2023%27%20or%201%3D1%20--"


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


def _queries() -> Iterator[tuple[str, Dialect, str]]:
    """Every variable and panel query of every generated dashboard, in both dialects."""
    for spec in dashboards():
        sources = [(f"variable {v.name}", v.query) for v in spec.variables] + [(p.title, p.sql) for p in spec.panels]
        for name, source in sources:
            for dialect in (DUCKDB, SNOWFLAKE):
                yield f"{spec.title} / {name} ({dialect.name.value})", dialect, render(source, dialect)


def test_no_query_takes_a_variable_where_a_value_could_leave_a_literal() -> None:
    assert unsafe_variables("season = ${season:raw} or s = $season or e = ${e} or d in (${d:csv})") == [
        "${season:raw}",
        "$season",
        "${e}",
        "${d:csv}",
    ]
    assert unsafe_variables("s = ${season:percentencode} or s = '${season:percentencode}' or e = ${e:sqlstring}") == [
        "${season:percentencode}",
        "${e:sqlstring}",
    ], "only quoted percent-encoded values are safe (sqlstring: not on "
    "Snowflake, which reads \\' inside a literal as a quote)"
    checked = 0
    for name, _, sql in _queries():
        assert unsafe_variables(sql) == [], f"{name}: use '${{x:percentencode}}' (sql.key, sql.number, sql.selected)"
        checked += bool(variables_in(sql))
    assert checked > 40


# The last two end a Snowflake literal written by Grafana's sqlstring (Snowflake reads `\\'` as an escaped quote and
# sqlstring leaves backslashes alone): percent-encoded, they cannot (dashboards/README.md, "Variables").
HOSTILE = (
    "2023 or 1=1",
    "2023) or (1=1",
    "' UNION SELECT secret FROM analytics.keys --",
    "x'' or ''1''=''1",
    'x" or "1"="1',
    "$$ or 1=1 --",
    "x\\' or 1=1 --",
    "\\\\' UNION SELECT 1 --",
)


def _shape(sql: str, dialect: Dialect) -> list[TokenType]:
    return [t.token_type for t in sqlglot.tokenize(sql, read=dialect.name.value)]


def _strings(sql: str, dialect: Dialect) -> list[str]:
    return [t.text for t in sqlglot.tokenize(sql, read=dialect.name.value) if t.token_type is TokenType.STRING]


def _shortest_query_per_variable() -> dict[tuple[str, str], tuple[str, Dialect, str]]:
    """Per variable and dialect, the shortest real query using it (every reference has one of the two safe forms,
    checked above, so these stand for all)."""
    found: dict[tuple[str, str], tuple[str, Dialect, str]] = {}
    for name, dialect, sql in _queries():
        for var in variables_in(sql):
            key = (var, dialect.name.value)
            if key not in found or len(sql) < len(found[key][2]):
                found[key] = (name, dialect, sql)
    return found


def test_the_sqlstring_format_is_not_proof_on_snowflake() -> None:
    """Why the dashboards take no `${x:sqlstring}`: the hostile value ends the literal on Snowflake only."""
    sql = "select 1 from t where e = ${e:sqlstring}"
    benign, attacked = (interpolate(sql, {"e": [v]}) for v in ("Miami", "x\\' or 1=1 --"))
    assert _shape(attacked, DUCKDB) == _shape(benign, DUCKDB)
    assert _shape(attacked, SNOWFLAKE) != _shape(benign, SNOWFLAKE)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_values_stay_inside_a_literal(hostile: str) -> None:
    """A value from the URL changes no token of a query but the string literal it sits in, tokenised as each
    warehouse reads SQL: for every variable, alone or among other values of a multi-value selection."""
    queries = _shortest_query_per_variable()
    assert {var for var, _ in queries} == {"season", "event", "session", "driver"}
    assert {dialect for _, dialect in queries} == {"duckdb", "snowflake"}
    for (target, _), (name, dialect, sql) in sorted(queries.items()):
        names = variables_in(sql)
        benign = interpolate(sql, {n: (["2025"] if n == target else SAMPLE[n]) for n in names})
        for attack in ([hostile], ["VER", hostile]):
            attacked = interpolate(sql, {n: (attack if n == target else SAMPLE[n]) for n in names})
            assert _shape(attacked, dialect) == _shape(benign, dialect), f"{name}: ${target}={attack!r} broke out"
            changed = [a for a, b in zip(_strings(attacked, dialect), _strings(benign, dialect), strict=True) if a != b]
            assert changed and all("or" in a or "UNION" in a for a in changed), f"{name}: {changed}"


@pytest.mark.parametrize(
    "chosen, expected",
    [
        (["VER"], ["VER"]),
        (["VER", "NOR"], ["NOR", "VER"]),
        (["{VER}"], ["VER"]),  # Grafana's array of one
        (["VE"], []),
        (["VER,NOR"], ["NOR", "VER"]),
        (["R_V", "max_verstappen"], ["R_V", "max_verstappen"]),
    ],
)
def test_selected_matches_the_keys_of_a_percent_encoded_selection(chosen: list[str], expected: list[str]) -> None:
    rows = "select * from (values ('VER'), ('NOR'), ('LEC'), ('R_V'), ('max_verstappen'), ('VERSTAPPEN')) t(driver)"
    sql = interpolate(f"select driver from ({rows}) where {selected('driver')} order by driver", {"driver": chosen})
    assert [r[0] for r in duckdb.connect().execute(sql).fetchall()] == sorted(expected)
    assert all(SAFE_KEY.fullmatch(percent_encode(k)) for k in ("VER", "max_verstappen", "2025-02-R", "campbell-jones"))
