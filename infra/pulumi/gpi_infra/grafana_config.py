"""Configuration of the Grafana stack (`gpi-grafana:<key>` in `Pulumi.<stack>.yaml`, camelCase keys).

The Grafana server itself is the provider's configuration (`grafana:url`, and `grafana:auth` set with
`--secret`); secrets of this stack (a webhook URL) are read with `get_secret`, never from plain config.
"""

from __future__ import annotations

from typing import Literal

import pulumi
from pydantic import Field

from f1common import grafana as f1grafana
from f1common.names import STAGE_PATTERN
from gpi_infra.config import _Config, _config_getter, _read

GRAFANA_PROJECT = "gpi-grafana"


class GrafanaStackConfig(_Config):
    stage: str = Field(pattern=STAGE_PATTERN)
    snowflake_stack: str = Field(description="StackReference name of the Snowflake stack, e.g. acme/gpi-snowflake/dev")
    plugin: Literal["snowflake", "michelin"] = Field(
        default="snowflake",
        description="snowflake: Grafana Labs' grafana-snowflake-datasource (Cloud/Enterprise licence); michelin: "
        "the open-source michelin-snowflake-datasource (Apache-2.0)",
    )
    build_dir: str = Field(default="../../../dist/grafana", description="The dashboards build, relative to grafana/")
    alert_emails: list[str] = Field(default_factory=list, description="Addresses of the contact point")
    notification_policy: bool = Field(
        default=True,
        description="Own the organisation's notification policy tree (one stack per Grafana organisation may); "
        "false: the rules name the stage's contact point themselves",
    )

    @property
    def datasource(self) -> f1grafana.DatasourcePlugin:
        return f1grafana.plugin(self.plugin)


def load_grafana_config(config: pulumi.Config | None = None) -> GrafanaStackConfig:
    config = config or pulumi.Config(GRAFANA_PROJECT)
    getter = _config_getter(config)
    return _read(  # type: ignore[no-any-return]
        GrafanaStackConfig, GRAFANA_PROJECT, lambda k: getter(k) if k != "stage" else (getter(k) or pulumi.get_stack())
    )
