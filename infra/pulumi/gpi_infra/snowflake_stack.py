"""The Snowflake stack: database and schemas, warehouses, Snowpipe ingest of the landing bucket, roles and
key-pair service users.

`snowflake_program` takes its configuration (and optionally the provider's admin private key) as arguments;
the project's `__main__.py` reads them from `pulumi.Config`, so tests run it under mocks.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_snowflake as snowflake

from f1common.names import SNAPSHOTS_SCHEMA
from gpi_infra.components.database import (
    VirtualWarehouses,
    VirtualWarehousesArgs,
    WarehouseDatabase,
    WarehouseDatabaseArgs,
)
from gpi_infra.components.service_keys import ServiceKeyPair, ServiceKeyPairArgs
from gpi_infra.components.snowpipe import SnowpipeIngest, SnowpipeIngestArgs
from gpi_infra.components.warehouse_access import ServiceAccess, WarehouseAccess, WarehouseAccessArgs
from gpi_infra.config import SnowflakeStackConfig

# pulumi-snowflake 2.x resources used here that are still preview features (the provider refuses them
# unless listed in `preview_features_enabled`).
PREVIEW_FEATURES = {
    "snowflake:index/table:Table": "snowflake_table_resource",
    "snowflake:index/pipe:Pipe": "snowflake_pipe_resource",
}


# The Snowflake service users (one role, warehouse and key pair each): loader and transformer Lambdas, Grafana.
SERVICE_USERS = ("loader", "transformer", "reporter")


def object_names(stage: str) -> dict[str, str]:
    """Account-level names of one stage (several stages may share a Snowflake account)."""
    p = f"GPI_{stage.upper()}"
    return {
        "storage_integration": f"{p}_LANDING_S3",
        "load_warehouse": f"{p}_LOAD_WH",
        "transform_warehouse": f"{p}_TRANSFORM_WH",
        "bi_warehouse": f"{p}_BI_WH",
        "loader_role": f"{p}_LOADER",
        "transformer_role": f"{p}_TRANSFORMER",
        "reporter_role": f"{p}_REPORTER",
        "loader_user": f"{p}_LOADER_SVC",
        "transformer_user": f"{p}_DBT_SVC",
        "reporter_user": f"{p}_GRAFANA_SVC",
    }


def snowflake_provider(cfg: SnowflakeStackConfig, private_key: pulumi.Input[str] | None) -> snowflake.Provider:
    """An explicit provider: key-pair (JWT) auth as the admin user, with the preview features enabled.

    Without `private_key` the provider reads SNOWFLAKE_PRIVATE_KEY / SNOWFLAKE_PRIVATE_KEY_PATH from the
    environment.
    """
    return snowflake.Provider(
        "snowflake",
        organization_name=cfg.organization_name,
        account_name=cfg.account_name,
        user=cfg.admin_user,
        role=cfg.admin_role,
        authenticator="SNOWFLAKE_JWT",
        private_key=private_key,
        preview_features_enabled=sorted(PREVIEW_FEATURES.values()),
    )


def snowflake_program(
    cfg: SnowflakeStackConfig, *, admin_private_key: pulumi.Input[str] | None = None
) -> dict[str, Any]:
    """Declares every Snowflake object of one stage; returns the stack outputs (read by the AWS stack)."""
    names = cfg.names
    objects = object_names(cfg.stage)
    provider = snowflake_provider(cfg, admin_private_key)
    opts = pulumi.ResourceOptions(providers=[provider])

    db = WarehouseDatabase(
        "warehouse",
        WarehouseDatabaseArgs(
            database_name=names.warehouse_database,
            schemas={
                "staging": names.staging_schema,
                "analytics": names.analytics_schema,
                "snapshots": SNAPSHOTS_SCHEMA,
            },
            data_retention_days=7 if cfg.stage == "prod" else 1,
        ),
        opts=opts,
    )
    staging, analytics, snapshots = db.schemas["staging"], db.schemas["analytics"], db.schemas["snapshots"]
    warehouses = VirtualWarehouses(
        "compute",
        VirtualWarehousesArgs(
            warehouses={
                "loader": (objects["load_warehouse"], cfg.load_warehouse_size),
                "transformer": (objects["transform_warehouse"], cfg.transform_warehouse_size),
                "reporter": (objects["bi_warehouse"], cfg.bi_warehouse_size),
            },
            auto_suspend_seconds=cfg.auto_suspend_seconds,
        ),
        opts=opts,
    )
    ingest = SnowpipeIngest(
        "snowpipe",
        SnowpipeIngestArgs(
            database=db.database.name,
            database_name=names.warehouse_database,
            schema=staging.name,
            schema_name=names.staging_schema,
            bucket=names.landing_bucket,
            storage_integration_name=objects["storage_integration"],
            storage_aws_role_arn=cfg.storage_role_arn,
        ),
        opts=pulumi.ResourceOptions(providers=[provider], depends_on=[db]),
    )
    # One key pair per service user, generated here; the private keys leave the stack only as secret outputs.
    keys = {
        svc: ServiceKeyPair(f"{svc}-keys", ServiceKeyPairArgs(generation=getattr(cfg.key_generations, svc)))
        for svc in SERVICE_USERS
    }
    services = [
        ServiceAccess(
            svc,
            objects[f"{svc}_role"],
            objects[f"{svc}_user"],
            objects[warehouse],
            schema,
            comment,
            rsa_public_key=keys[svc].rsa_public_key,
            rsa_public_key2=keys[svc].rsa_public_key2,
        )
        for svc, (warehouse, schema, comment) in {
            "loader": ("load_warehouse", names.staging_schema, "Loads landed files into staging (loader Lambda)"),
            "transformer": ("transform_warehouse", names.analytics_schema, "Builds the analytics schema (dbt)"),
            "reporter": ("bi_warehouse", names.analytics_schema, "Reads the analytics marts (Grafana)"),
        }.items()
    ]
    access = WarehouseAccess(
        "access",
        WarehouseAccessArgs(
            database=db.database.fully_qualified_name,
            database_name=names.warehouse_database,
            staging_schema=staging.fully_qualified_name,
            analytics_schema=analytics.fully_qualified_name,
            snapshots_schema=snapshots.fully_qualified_name,
            stage=ingest.stage.fully_qualified_name,
            file_format=ingest.file_format.fully_qualified_name,
            warehouses={k: wh.fully_qualified_name for k, wh in warehouses.warehouses.items()},
            services=services,
        ),
        # Grants on "all" objects must come after the tables and pipes exist; "future" grants cover later ones.
        opts=pulumi.ResourceOptions(providers=[provider], depends_on=[ingest, warehouses]),
    )
    return {
        "stage": cfg.stage,
        "account": cfg.account_identifier,
        "database": db.database.name,
        "staging_schema": staging.name,
        "analytics_schema": analytics.name,
        "snapshots_schema": snapshots.name,
        "storage_integration": ingest.integration.name,
        "storage_aws_role_arn": cfg.storage_role_arn,
        "storage_aws_iam_user_arn": ingest.iam_user_arn,
        "storage_aws_external_id": ingest.external_id,
        "stage_name": ingest.stage.fully_qualified_name,
        "pipe_notification_channel": ingest.notification_channel,
        "pipes": [p.name for p in ingest.pipes.values()],
        "load_warehouse": warehouses.warehouses["loader"].name,
        "transform_warehouse": warehouses.warehouses["transformer"].name,
        "bi_warehouse": warehouses.warehouses["reporter"].name,
        "loader_role": access.roles["loader"].name,
        "transformer_role": access.roles["transformer"].name,
        "reporter_role": access.roles["reporter"].name,
        "loader_user": access.users["loader"].name,
        "transformer_user": access.users["transformer"].name,
        "reporter_user": access.users["reporter"].name,
        # Secret outputs: the AWS stack puts the loader's into Secrets Manager; dbt and Grafana read theirs with
        # `pulumi stack output --show-secrets <svc>_private_key` (README: keys and rotation).
        **{f"{svc}_private_key": keys[svc].private_key for svc in SERVICE_USERS},
        **{f"{svc}_key_generation": getattr(cfg.key_generations, svc) for svc in SERVICE_USERS},
    }
