"""Snowflake roles LOADER / TRANSFORMER (dbt) / REPORTER (Grafana), their least-privilege grants, and one
key-pair service user per role."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_snowflake as snowflake

# A service role granted to SYSADMIN, so administrators see what the service users create.
PARENT_ROLE = "SYSADMIN"


@dataclass(frozen=True)
class ServiceAccess:
    """One role with its service user."""

    key: str  # loader, transformer, reporter
    role_name: str
    user_name: str
    warehouse_name: str
    default_schema: str
    comment: str
    # The user's two key slots (one line of base64 each; see components/service_keys.py).
    rsa_public_key: pulumi.Input[str] | None = None
    rsa_public_key2: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class WarehouseAccessArgs:
    database: pulumi.Input[str]  # fully qualified name
    database_name: str
    staging_schema: pulumi.Input[str]  # fully qualified names
    analytics_schema: pulumi.Input[str]
    snapshots_schema: pulumi.Input[str]  # dbt's snapshots (SCD2 history), owned by the transformer like analytics
    stage: pulumi.Input[str]
    file_format: pulumi.Input[str]
    warehouses: dict[str, pulumi.Input[str]]  # key -> fully qualified warehouse name
    services: Sequence[ServiceAccess]


class WarehouseAccess(pulumi.ComponentResource):
    roles: dict[str, snowflake.AccountRole]
    users: dict[str, snowflake.ServiceUser]

    def __init__(self, name: str, args: WarehouseAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpi:snowflake:WarehouseAccess", name, None, opts)
        self._prefix = name
        self._child = pulumi.ResourceOptions(parent=self)
        self.roles, self.users = {}, {}
        for svc in args.services:
            role = snowflake.AccountRole(f"{name}-{svc.key}", name=svc.role_name, comment=svc.comment, opts=self._child)
            self.roles[svc.key] = role
            snowflake.GrantAccountRole(
                f"{name}-{svc.key}-to-{PARENT_ROLE.lower()}",
                role_name=role.name,
                parent_role_name=PARENT_ROLE,
                opts=self._child,
            )
            self._on_account_object(f"{svc.key}-database", role, "DATABASE", args.database, ["USAGE"])
            self._on_account_object(f"{svc.key}-warehouse", role, "WAREHOUSE", args.warehouses[svc.key], ["USAGE"])
            user = snowflake.ServiceUser(
                f"{name}-{svc.key}-user",
                name=svc.user_name,
                login_name=svc.user_name,
                comment=svc.comment,
                default_role=role.name,
                default_warehouse=svc.warehouse_name,
                default_namespace=f"{args.database_name}.{svc.default_schema}",
                default_secondary_roles_option="NONE",
                rsa_public_key=svc.rsa_public_key,
                rsa_public_key2=svc.rsa_public_key2,
                opts=self._child,
            )
            self.users[svc.key] = user
            snowflake.GrantAccountRole(
                f"{name}-{svc.key}-to-user", role_name=role.name, user_name=user.name, opts=self._child
            )

        loader, transformer, reporter = self.roles["loader"], self.roles["transformer"], self.roles["reporter"]
        # LOADER: reads the stage, writes the staging and bookkeeping tables, refreshes/monitors the pipes.
        # CREATE STAGE / CREATE TABLE: the loader's own COPY path (no Snowpipe, replays) creates its internal
        # stage and runs the loader DDL's `CREATE TABLE IF NOT EXISTS` (the tables themselves are Pulumi's).
        self._on_schema("loader-staging", loader, args.staging_schema, ["USAGE", "CREATE STAGE", "CREATE TABLE"])
        self._on_objects(
            "loader-tables", loader, "TABLES", args.staging_schema, ["SELECT", "INSERT", "UPDATE", "DELETE"]
        )
        self._on_objects("loader-pipes", loader, "PIPES", args.staging_schema, ["MONITOR", "OPERATE"])
        self._on_object("loader-stage", loader, "STAGE", args.stage, ["USAGE"])
        self._on_object("loader-file-format", loader, "FILE FORMAT", args.file_format, ["USAGE"])
        # TRANSFORMER (dbt): reads staging, builds the analytics schema.
        self._on_schema("transformer-staging", transformer, args.staging_schema, ["USAGE"])
        self._on_objects("transformer-staging-tables", transformer, "TABLES", args.staging_schema, ["SELECT"])
        self._on_schema(
            "transformer-analytics", transformer, args.analytics_schema, ["USAGE", "CREATE TABLE", "CREATE VIEW"]
        )
        # dbt snapshots (`snapshots: +schema: snapshots`): the first production build creates its table there.
        self._on_schema("transformer-snapshots", transformer, args.snapshots_schema, ["USAGE", "CREATE TABLE"])
        # REPORTER (Grafana): reads the analytics schema, and the staging schema's tables for the pipeline-health
        # dashboard (freshness per dataset, load history, quarantine, the race calendar export); never writes.
        self._on_schema("reporter-analytics", reporter, args.analytics_schema, ["USAGE"])
        self._on_schema("reporter-staging", reporter, args.staging_schema, ["USAGE"])
        self._on_objects("reporter-staging-tables", reporter, "TABLES", args.staging_schema, ["SELECT"])
        self._on_objects("reporter-tables", reporter, "TABLES", args.analytics_schema, ["SELECT"])
        self._on_objects("reporter-views", reporter, "VIEWS", args.analytics_schema, ["SELECT"])
        self.register_outputs({key: role.name for key, role in self.roles.items()})

    def _grant(self, name: str, role: snowflake.AccountRole, privileges: list[str], **on: object) -> None:
        snowflake.GrantPrivilegesToAccountRole(
            f"{self._prefix}-{name}",
            account_role_name=role.name,
            privileges=privileges,
            opts=self._child,
            **on,  # type: ignore[arg-type]
        )

    def _on_account_object(
        self, name: str, role: snowflake.AccountRole, kind: str, obj: pulumi.Input[str], privileges: list[str]
    ) -> None:
        on = snowflake.GrantPrivilegesToAccountRoleOnAccountObjectArgs(object_type=kind, object_name=obj)
        self._grant(name, role, privileges, on_account_object=on)

    def _on_schema(
        self, name: str, role: snowflake.AccountRole, schema: pulumi.Input[str], privileges: list[str]
    ) -> None:
        self._grant(
            name, role, privileges, on_schema=snowflake.GrantPrivilegesToAccountRoleOnSchemaArgs(schema_name=schema)
        )

    def _on_object(
        self, name: str, role: snowflake.AccountRole, kind: str, obj: pulumi.Input[str], privileges: list[str]
    ) -> None:
        on = snowflake.GrantPrivilegesToAccountRoleOnSchemaObjectArgs(object_type=kind, object_name=obj)
        self._grant(name, role, privileges, on_schema_object=on)

    def _on_objects(
        self, name: str, role: snowflake.AccountRole, plural: str, schema: pulumi.Input[str], privileges: list[str]
    ) -> None:
        """Grants on the schema's existing objects of a kind (`-all`) and on those created later (`-future`)."""
        existing = snowflake.GrantPrivilegesToAccountRoleOnSchemaObjectAllArgs(
            object_type_plural=plural, in_schema=schema
        )
        later = snowflake.GrantPrivilegesToAccountRoleOnSchemaObjectFutureArgs(
            object_type_plural=plural, in_schema=schema
        )
        for scope, on in (
            ("all", snowflake.GrantPrivilegesToAccountRoleOnSchemaObjectArgs(all=existing)),
            ("future", snowflake.GrantPrivilegesToAccountRoleOnSchemaObjectArgs(future=later)),
        ):
            self._grant(f"{name}-{scope}", role, privileges, on_schema_object=on)
