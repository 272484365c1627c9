"""The Grafana side of the warehouse contract: the datasource plugins the dashboards are generated for, the uid
each is provisioned under, and the settings each plugin reads.

Used by the dashboards (every panel names its datasource by uid and plugin), their upload command and the
Pulumi Grafana stack (which create the datasource), so the three agree on one definition.

Two plugins read Snowflake (the README of `infra/pulumi` states their licences):
- `grafana-snowflake-datasource` (Grafana Labs): Grafana Cloud, or self-managed Grafana with an Enterprise
  licence. Settings as its provisioning reference lists them: `jsonData.account/username/role/warehouse/
  database/schema`, `jsonData.authType = keypair`, `secureJsonData.privateKey` (the PKCS#8 PEM).
- `michelin-snowflake-datasource` (Michelin, Apache-2.0, an unsigned backend plugin with alerting): the same
  jsonData keys (its `pluginConfig`, pkg/snowflake.go), `jsonData.authMethod = keyPair` and
  `secureJsonData.privateKey` as its config editor stores it: the key's base64 body without PEM armour or line
  breaks, in the URL-safe alphabet (gosnowflake reads the `privateKey` DSN parameter that way).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

from f1common.names import STAGE_PATTERN

EXPRESSION_DATASOURCE_UID = "__expr__"  # Grafana's server-side expressions (math, reduce, threshold)
MAX_UID_LENGTH = 40  # Grafana refuses longer uids (dashboards, datasources, folders, alert rules)
_UID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_STAGE = re.compile(STAGE_PATTERN)


@dataclass(frozen=True)
class DatasourcePlugin:
    """A Grafana datasource plugin and the datasource of it the project provisions."""

    key: str  # CLI / config name
    plugin_id: str
    uid: str
    name: str
    licence: str

    def for_stage(self, stage: str) -> DatasourcePlugin:
        """The same datasource for one deployment stage (dev and prod may share a Grafana organisation)."""
        return DatasourcePlugin(
            self.key, self.plugin_id, stage_uid(self.uid, stage), f"{self.name} {stage}", self.licence
        )


DUCKDB = DatasourcePlugin(
    key="duckdb",
    plugin_id="motherduck-duckdb-datasource",
    uid="gpi-duckdb",
    name="Grand Prix Insights (DuckDB)",
    licence="Apache-2.0 (MotherDuck); the local warehouse file",
)
SNOWFLAKE = DatasourcePlugin(
    key="snowflake",
    plugin_id="grafana-snowflake-datasource",
    uid="gpi-snowflake",
    name="Grand Prix Insights (Snowflake)",
    licence="Grafana Labs Enterprise plugin: Grafana Cloud, or a Grafana Enterprise licence self-managed",
)
MICHELIN = DatasourcePlugin(
    key="michelin",
    plugin_id="michelin-snowflake-datasource",
    uid="gpi-snowflake-oss",
    name="Grand Prix Insights (Snowflake, open source)",
    licence="Apache-2.0 (Michelin); unsigned: allow it with plugins.allow_loading_unsigned_plugins",
)
PLUGINS: dict[str, DatasourcePlugin] = {p.key: p for p in (DUCKDB, SNOWFLAKE, MICHELIN)}
SNOWFLAKE_PLUGINS = (SNOWFLAKE, MICHELIN)


def plugin(key: str) -> DatasourcePlugin:
    try:
        return PLUGINS[key]
    except KeyError:
        raise ValueError(f"unknown datasource {key!r}; expected one of {sorted(PLUGINS)}") from None


def stage_uid(uid: str, stage: str) -> str:
    """`uid` of the object deployed for `stage` (`gpi-race-progress-snowflake` -> `...-snowflake-dev`)."""
    if not _STAGE.fullmatch(stage):
        raise ValueError(f"stage must match {_STAGE.pattern}, got {stage!r}")
    staged = f"{uid}-{stage}"
    if not _UID.fullmatch(staged):
        raise ValueError(f"uid {staged!r} is not a Grafana uid (letters, digits, '-', '_'; at most {MAX_UID_LENGTH})")
    return staged


@dataclass(frozen=True)
class SnowflakeConnection:
    """Where and as whom a Snowflake datasource connects (the Snowflake stack's reporter outputs)."""

    account: str  # <org>-<account>
    user: str
    role: str
    warehouse: str
    database: str
    schema: str


def snowflake_json_data(ds: DatasourcePlugin, conn: SnowflakeConnection) -> dict[str, Any]:
    """The datasource's `jsonData` for key-pair authentication."""
    common = {
        "account": conn.account,
        "username": conn.user,
        "role": conn.role,
        "warehouse": conn.warehouse,
        "database": conn.database,
        "schema": conn.schema,
    }
    if ds.plugin_id == SNOWFLAKE.plugin_id:
        return {**common, "authType": "keypair"}
    if ds.plugin_id == MICHELIN.plugin_id:
        return {**common, "authMethod": "keyPair"}
    raise ValueError(f"{ds.plugin_id} is not a Snowflake plugin")


def snowflake_secure_json_data(ds: DatasourcePlugin, private_key_pem: str) -> dict[str, str]:
    """The datasource's `secureJsonData`: the reporter's private key as the plugin reads it."""
    if ds.plugin_id == SNOWFLAKE.plugin_id:
        return {"privateKey": private_key_pem}
    if ds.plugin_id == MICHELIN.plugin_id:
        return {"privateKey": michelin_private_key(private_key_pem)}
    raise ValueError(f"{ds.plugin_id} is not a Snowflake plugin")


_PEM = re.compile(r"-----BEGIN PRIVATE KEY-----(?P<body>[A-Za-z0-9+/=\s]+)-----END PRIVATE KEY-----")


def michelin_private_key(pem: str) -> str:
    """An unencrypted PKCS#8 PEM key as Michelin's plugin stores it: the base64 body, URL-safe, on one line."""
    match = _PEM.search(pem)
    if match is None:
        raise ValueError("expected an unencrypted PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----)")
    body = re.sub(r"\s+", "", match["body"])
    try:
        base64.b64decode(body, validate=True)
    except ValueError:
        raise ValueError("the private key's PEM body is not base64") from None
    return body.replace("+", "-").replace("/", "_")
