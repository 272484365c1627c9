"""The Snowflake database of a stage with its schemas, and the virtual warehouses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_snowflake as snowflake


@dataclass(frozen=True)
class WarehouseDatabaseArgs:
    database_name: str
    schemas: Mapping[str, str]  # key -> schema name
    data_retention_days: int = 1


class WarehouseDatabase(pulumi.ComponentResource):
    database: snowflake.Database
    schemas: dict[str, snowflake.Schema]

    def __init__(self, name: str, args: WarehouseDatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpi:snowflake:WarehouseDatabase", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.database = snowflake.Database(
            name,
            name=args.database_name,
            data_retention_time_in_days=args.data_retention_days,
            drop_public_schema_on_creation=True,
            comment="Grand Prix Insights warehouse",
            opts=child,
        )
        self.schemas = {
            key: snowflake.Schema(
                f"{name}-{key}",
                name=schema,
                database=self.database.name,
                # Managed access: only the schema owner grants on its objects, not each object's owner.
                with_managed_access="true",
                opts=child,
            )
            for key, schema in args.schemas.items()
        }
        self.register_outputs({"database": self.database.name})


@dataclass(frozen=True)
class VirtualWarehousesArgs:
    warehouses: Mapping[str, tuple[str, str]]  # key -> (name, size)
    auto_suspend_seconds: int = 60


class VirtualWarehouses(pulumi.ComponentResource):
    warehouses: dict[str, snowflake.Warehouse]

    def __init__(self, name: str, args: VirtualWarehousesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpi:snowflake:VirtualWarehouses", name, None, opts)
        self.warehouses = {
            key: snowflake.Warehouse(
                f"{name}-{key}",
                name=wh_name,
                warehouse_size=size,
                auto_suspend=args.auto_suspend_seconds,
                auto_resume="true",
                initially_suspended=True,
                statement_timeout_in_seconds=3600,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for key, (wh_name, size) in args.warehouses.items()
        }
        self.register_outputs({key: wh.name for key, wh in self.warehouses.items()})
