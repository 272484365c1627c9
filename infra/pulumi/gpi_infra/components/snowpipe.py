"""Snowpipe auto-ingest of the landing bucket: storage integration, Parquet file format, external stage,
staging and bookkeeping tables, one pipe per dataset.

Everything is generated from the warehouse contract (`f1common.snowpipe`, `f1common.warehouse`), so the tables
and COPY statements Pulumi creates are the ones the loader's SQL script and tests use.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_snowflake as snowflake

from f1common import snowpipe as defs
from f1common import warehouse


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _columns(columns: Sequence[warehouse.StagingColumn]) -> list[snowflake.TableColumnArgs]:
    # Upper case: the provider quotes identifiers, and the pipes' COPY and dbt use them unquoted.
    return [snowflake.TableColumnArgs(name=c.name.upper(), type=c.type, nullable=c.nullable) for c in columns]


@dataclass(frozen=True)
class SnowpipeIngestArgs:
    database: pulumi.Input[str]
    database_name: str
    schema: pulumi.Input[str]
    schema_name: str
    bucket: str
    storage_integration_name: str
    storage_aws_role_arn: str


class SnowpipeIngest(pulumi.ComponentResource):
    integration: snowflake.StorageIntegrationAws
    stage: snowflake.StageExternalS3
    file_format: snowflake.FileFormatParquet
    tables: dict[str, snowflake.Table]
    pipes: dict[str, snowflake.Pipe]

    def __init__(self, name: str, args: SnowpipeIngestArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpi:snowflake:SnowpipeIngest", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        staging_schema = warehouse.schema_name("snowflake")
        if args.schema_name != staging_schema:
            raise ValueError(f"staging schema {args.schema_name!r} differs from the contract's {staging_schema!r}")
        fmt = defs.file_format()
        manifest_fmt = defs.manifest_file_format()
        stage = defs.external_stage(args.bucket, args.storage_integration_name)

        self.integration = snowflake.StorageIntegrationAws(
            f"{name}-integration",
            name=args.storage_integration_name,
            enabled=True,
            storage_provider="S3",
            storage_allowed_locations=[stage.url],
            storage_aws_role_arn=args.storage_aws_role_arn,
            comment=f"Landing bucket {args.bucket} (role {args.storage_aws_role_arn})",
            opts=child,
        )
        self.file_format = snowflake.FileFormatParquet(
            f"{name}-parquet",
            name=fmt.name,
            database=args.database,
            schema=args.schema,
            use_logical_type=_bool(fmt.use_logical_type),
            binary_as_text=_bool(fmt.binary_as_text),
            compression=fmt.compression,
            opts=child,
        )
        self.manifest_file_format = snowflake.FileFormatJson(
            f"{name}-manifest-json",
            name=manifest_fmt.name,
            database=args.database,
            schema=args.schema,
            strip_outer_array=_bool(manifest_fmt.strip_outer_array),
            compression=manifest_fmt.compression,
            opts=child,
        )
        self.stage = snowflake.StageExternalS3(
            f"{name}-stage",
            name=stage.name,
            database=args.database,
            schema=args.schema,
            url=stage.url,
            storage_integration=self.integration.name,
            file_format=snowflake.StageExternalS3FileFormatArgs(format_name=self.file_format.fully_qualified_name),
            opts=child,
        )

        self.tables = {
            table.dataset: self._table(
                f"{name}-{table.dataset}",
                args,
                table.name,
                table.columns,
                comment=table.comment,
                cluster_by=table.cluster_by,
            )
            for table in defs.staging_tables("snowflake")
        }
        keys = _bookkeeping_primary_keys()
        self.bookkeeping = {
            table: self._table(
                f"{name}-{table}",
                args,
                table.upper(),
                columns,
                primary_key=snowflake.TablePrimaryKeyArgs(keys=keys[table]) if keys.get(table) else None,
            )
            for table, columns in warehouse.bookkeeping_columns("snowflake").items()
        }

        self.pipes = {
            pipe.dataset: self._pipe(
                f"{name}-{pipe.dataset}-pipe", args, pipe, [self.tables[pipe.dataset], self.stage, self.file_format]
            )
            for pipe in defs.pipe_definitions(args.database_name, args.schema_name, stage.name, fmt.name)
        }
        # The manifests (JSON) into the loader's load_manifests table: dbt keeps only complete runs.
        manifests = defs.manifest_pipe_definition(args.database_name, args.schema_name, stage.name, manifest_fmt.name)
        self.pipes[manifests.dataset] = self._pipe(
            f"{name}-manifests-pipe",
            args,
            manifests,
            [self.bookkeeping[warehouse.LOAD_MANIFESTS], self.stage, self.manifest_file_format],
        )
        self.notification_channel = pulumi.Output.all(*(p.notification_channel for p in self.pipes.values())).apply(
            _one_channel
        )
        described = self.integration.describe_outputs
        self.iam_user_arn = described.apply(lambda d: _described(d, "iam_user_arn"))
        self.external_id = described.apply(lambda d: _described(d, "external_id"))
        self.register_outputs(
            {
                "notification_channel": self.notification_channel,
                "iam_user_arn": self.iam_user_arn,
                "external_id": self.external_id,
            }
        )

    def _table(
        self,
        name: str,
        args: SnowpipeIngestArgs,
        table_name: str,
        columns: Sequence[warehouse.StagingColumn],
        *,
        comment: str | None = None,
        primary_key: snowflake.TablePrimaryKeyArgs | None = None,
        cluster_by: Sequence[str] = (),
    ) -> snowflake.Table:
        """A table of the staging schema (clustered by `cluster_by`, when given)."""
        return snowflake.Table(
            name,
            name=table_name,
            database=args.database,
            schema=args.schema,
            columns=_columns(columns),
            comment=comment,
            primary_key=primary_key,
            cluster_bies=list(cluster_by) or None,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _pipe(
        self, name: str, args: SnowpipeIngestArgs, pipe: defs.PipeDefinition, objects: list[pulumi.Resource]
    ) -> snowflake.Pipe:
        """The auto-ingest pipe of `pipe`; its COPY names `objects` in SQL text, so the dependency is declared."""
        return snowflake.Pipe(
            name,
            name=pipe.name,
            database=args.database,
            schema=args.schema,
            auto_ingest=pipe.auto_ingest,
            copy_statement=pipe.copy_statement,
            comment=f"Auto-ingests s3://{args.bucket}/{pipe.prefix} into {pipe.table}",
            opts=pulumi.ResourceOptions(parent=self, depends_on=objects),
        )


def _bookkeeping_primary_keys() -> dict[str, list[str]]:
    """Primary-key columns of the bookkeeping tables, as the warehouse contract's DDL declares them."""
    keys: dict[str, list[str]] = {}
    tables = warehouse.bookkeeping_columns("snowflake")
    for table, sql in zip(tables, warehouse.bookkeeping_sql("snowflake"), strict=True):
        match = re.search(r"PRIMARY KEY \(([^)]*)\)", sql)
        keys[table] = [k.strip().upper() for k in match[1].split(",")] if match else []
    return keys


def _one_channel(channels: list[str]) -> str:
    """All auto-ingest pipes of an account and region share one SQS queue; the bucket notifies it once."""
    distinct = sorted(set(channels))
    if len(distinct) != 1:
        raise ValueError(f"expected the pipes to share one notification channel, got {distinct}")
    return distinct[0]


def _described(outputs: list[snowflake.outputs.StorageIntegrationAwsDescribeOutput], attr: str) -> str:
    if not outputs or not getattr(outputs[0], attr, None):
        raise ValueError(f"the storage integration did not describe its {attr}")
    return str(getattr(outputs[0], attr))
