"""The two Grafana datasources a dashboard is generated for, and their target (query) shapes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from grandprix_dashboards.sql import DIALECTS, Dialect, DialectName


class Format(str, Enum):
    TIME_SERIES = "time_series"
    TABLE = "table"


@dataclass(frozen=True)
class Datasource:
    """A Grafana datasource plugin: its type id, the uid/name we provision, and how its targets look."""

    key: str  # CLI name: duckdb | snowflake
    plugin: str
    uid: str
    name: str
    dialect: DialectName
    numeric_format: bool  # sqlds plugins read format as 0 (time series) / 1 (table)

    @property
    def sql_dialect(self) -> Dialect:
        return DIALECTS[self.dialect]

    @property
    def ref(self) -> dict[str, str]:
        return {"type": self.plugin, "uid": self.uid}

    def format_value(self, fmt: Format) -> int | str:
        if self.numeric_format:
            return 0 if fmt is Format.TIME_SERIES else 1
        return fmt.value

    def target(self, ref_id: str, sql: str, fmt: Format) -> dict[str, Any]:
        """A panel target (query) in the shape the plugin reads."""
        return {"refId": ref_id, "datasource": self.ref, "rawSql": sql, "format": self.format_value(fmt)}



DUCKDB = Datasource(
    key="duckdb",
    plugin="motherduck-duckdb-datasource",
    uid="gpi-duckdb",
    name="Grand Prix Insights (DuckDB)",
    dialect=DialectName.DUCKDB,
    numeric_format=True,
)
SNOWFLAKE = Datasource(
    key="snowflake",
    plugin="grafana-snowflake-datasource",
    uid="gpi-snowflake",
    name="Grand Prix Insights (Snowflake)",
    dialect=DialectName.SNOWFLAKE,
    numeric_format=False,
)
DATASOURCES: dict[str, Datasource] = {ds.key: ds for ds in (DUCKDB, SNOWFLAKE)}


def select(choice: str) -> list[Datasource]:
    """`duckdb`, `snowflake` or `both` → the datasources; a clear error otherwise."""
    if choice == "both":
        return [DUCKDB, SNOWFLAKE]
    try:
        return [DATASOURCES[choice]]
    except KeyError:
        raise ValueError(f"unknown datasource {choice!r}; expected duckdb, snowflake or both") from None
