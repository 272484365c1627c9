from __future__ import annotations

import base64

import pytest

from f1common import grafana as g

PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq\nhkiG9w0BAQEFAASC+/8=\n-----END PRIVATE KEY-----\n"
CONN = g.SnowflakeConnection(
    "ACME-GPI", "GPI_DEV_GRAFANA_SVC", "GPI_DEV_REPORTER", "GPI_DEV_BI_WH", "GPI_DEV", "ANALYTICS"
)


def test_michelin_key_is_the_url_safe_body_of_the_pem() -> None:
    body = g.michelin_private_key(PEM)
    assert body == "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC-_8="
    assert base64.urlsafe_b64decode(body) == base64.b64decode("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC+/8=")
    with pytest.raises(ValueError, match="unencrypted PKCS#8"):
        g.michelin_private_key("-----BEGIN ENCRYPTED PRIVATE KEY-----\nabc\n-----END ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(ValueError, match="not base64"):
        g.michelin_private_key("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----")


def test_settings_per_plugin() -> None:
    assert g.snowflake_json_data(g.SNOWFLAKE, CONN)["authType"] == "keypair"
    assert g.snowflake_json_data(g.MICHELIN, CONN)["authMethod"] == "keyPair"
    assert g.snowflake_secure_json_data(g.SNOWFLAKE, PEM) == {"privateKey": PEM}
    with pytest.raises(ValueError, match="not a Snowflake plugin"):
        g.snowflake_json_data(g.DUCKDB, CONN)


def test_stage_uids() -> None:
    assert g.MICHELIN.for_stage("prod").uid == "gpi-snowflake-oss-prod"
    assert g.stage_uid("gpi-race-progress-michelin", "dev") == "gpi-race-progress-michelin-dev"
    with pytest.raises(ValueError, match="at most 40"):
        g.stage_uid("x" * 38, "dev")
    with pytest.raises(ValueError, match="stage must match"):
        g.stage_uid("gpi", "Dev")
    with pytest.raises(ValueError, match="unknown datasource"):
        g.plugin("postgres")
