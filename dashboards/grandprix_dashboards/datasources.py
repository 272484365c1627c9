"""The Grafana datasources a dashboard is generated for, and their target (query) shapes.

The plugins, uids and names are the contract in `f1common.grafana` (the upload command and the Pulumi Grafana
stack create the datasources from it); this module adds what the dashboards need: the SQL dialect and the
shape of a query target each plugin reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from f1common import grafana as f1grafana
from grandprix_dashboards.sql import DIALECTS, Dialect, DialectName


class Format(str, Enum):
    TIME_SERIES = "time_series"
    TABLE = "table"


class TargetShape(str, Enum):
    """How a plugin's query target carries the SQL and the result format."""

    SQLDS = "sqlds"  # rawSql + format: 0/1 (motherduck, sqlds plugins) or "time_series"/"table" (Grafana Labs)
    MICHELIN = "michelin"  # queryText + queryType "time series"/"table" + timeColumns (michelin pkg/query.go)


# queryType values of the Michelin plugin (pkg/data/type.go: TimeSeriesType = "time series").
MICHELIN_QUERY_TYPES = {Format.TIME_SERIES: "time series", Format.TABLE: "table"}


@dataclass(frozen=True)
class Datasource:
    """A Grafana datasource plugin: its type id, the uid/name we provision, and how its targets look."""

    contract: f1grafana.DatasourcePlugin
    dialect: DialectName
    numeric_format: bool  # sqlds plugins read format as 0 (time series) / 1 (table)
    shape: TargetShape = TargetShape.SQLDS

    @property
    def key(self) -> str:  # CLI name: duckdb | snowflake | michelin
        return self.contract.key

    @property
    def plugin(self) -> str:
        return self.contract.plugin_id

    @property
    def uid(self) -> str:
        return self.contract.uid

    @property
    def name(self) -> str:
        return self.contract.name

    @property
    def sql_dialect(self) -> Dialect:
        return DIALECTS[self.dialect]

    @property
    def ref(self) -> dict[str, str]:
        return {"type": self.plugin, "uid": self.uid}

    @property
    def sql_key(self) -> str:
        """The target field holding the SQL."""
        return "queryText" if self.shape is TargetShape.MICHELIN else "rawSql"

    @property
    def format_key(self) -> str:
        """The target field holding the result format."""
        return "queryType" if self.shape is TargetShape.MICHELIN else "format"

    def format_value(self, fmt: Format) -> int | str:
        if self.shape is TargetShape.MICHELIN:
            return MICHELIN_QUERY_TYPES[fmt]
        if self.numeric_format:
            return 0 if fmt is Format.TIME_SERIES else 1
        return fmt.value

    def target(self, ref_id: str, sql: str, fmt: Format, time_column: str | None = None) -> dict[str, Any]:
        """A panel target (query) in the shape the plugin reads; `time_column` names a time series' time field."""
        target: dict[str, Any] = {
            "refId": ref_id,
            "datasource": self.ref,
            self.sql_key: sql,
            self.format_key: self.format_value(fmt),
        }
        if self.shape is TargetShape.MICHELIN and fmt is Format.TIME_SERIES:
            target["timeColumns"] = [time_column or "time"]
        return target


DUCKDB = Datasource(f1grafana.DUCKDB, dialect=DialectName.DUCKDB, numeric_format=True)
SNOWFLAKE = Datasource(f1grafana.SNOWFLAKE, dialect=DialectName.SNOWFLAKE, numeric_format=False)
MICHELIN = Datasource(
    f1grafana.MICHELIN, dialect=DialectName.SNOWFLAKE, numeric_format=False, shape=TargetShape.MICHELIN
)
DATASOURCES: dict[str, Datasource] = {ds.key: ds for ds in (DUCKDB, SNOWFLAKE, MICHELIN)}
CHOICES = (*DATASOURCES, "both", "all")


def select(choice: str) -> list[Datasource]:
    """A datasource key, `both` (DuckDB and Grafana Labs' Snowflake) or `all` → the datasources."""
    if choice == "both":
        return [DUCKDB, SNOWFLAKE]
    if choice == "all":
        return list(DATASOURCES.values())
    try:
        return [DATASOURCES[choice]]
    except KeyError:
        raise ValueError(f"unknown datasource {choice!r}; expected one of {', '.join(CHOICES)}") from None
