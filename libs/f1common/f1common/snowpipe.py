"""What Snowpipe needs, as data: staging tables, the Parquet file format, the external stage and one pipe per dataset.

Pure Python over :mod:`f1common.warehouse` (no database driver): the Pulumi Snowflake stack builds its
resources from these objects, and :func:`render_setup_sql` renders the same objects as one SQL script
for accounts managed without Pulumi.

The pipes' COPY uses a transformation (``COPY INTO t (cols) FROM (SELECT $1:col::TYPE, …, METADATA$… FROM
@stage/dataset=<name>/)``), not ``MATCH_BY_COLUMN_NAME``: Snowflake rejects ``MATCH_BY_COLUMN_NAME``
together with a transformation, and its ``INCLUDE_METADATA`` alternative cannot derive ``_run_id`` from
the file name. The transformation reads the Parquet columns by (lower-case) name like
``MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE`` would, ignores extra columns, and fills the metadata columns:

- ``_file_name``: ``METADATA$FILENAME``, the path relative to the stage, i.e. the S3 key (the stage URL
  is the bucket root);
- ``_run_id``: parsed from the file name ``<dataset>-<run_id>.parquet`` (no other ``-`` in the key layout);
- ``_row_number``: ``METADATA$FILE_ROW_NUMBER`` (1-based);
- ``_load_time``: ``METADATA$START_SCAN_TIME`` cast to TIMESTAMP_TZ (Snowflake advises against
  CURRENT_TIMESTAMP in pipe COPY statements).

The file format sets ``USE_LOGICAL_TYPE = TRUE`` so Parquet timestamps (UTC, microseconds) and dates keep
their logical types.

A run's data files load as they arrive, complete or not: the manifests say which runs are complete. One
more pipe (:func:`manifest_pipe_definition`, JSON file format) loads every ``manifests/<run_id>.json``
into ``load_manifests``, the table the loader fills in loader mode, and dbt keeps only the rows of
complete runs (``stg_landing__runs``), so Snowpipe mode is as safe as the loader's manifest gate.
"""

from __future__ import annotations

from dataclasses import dataclass

from f1common.datasets import DATASETS, DatasetSpec, dataset_spec
from f1common.layout import DATA_PREFIX, MANIFEST_PREFIX
from f1common.warehouse import (
    FILE_NAME,
    LOAD_MANIFESTS,
    LOAD_TIME,
    ROW_NUMBER,
    RUN_ID,
    Dialect,
    StagingColumn,
    all_ddl,
    bookkeeping_columns,
    create_table_sql,
    dataset_columns,
    schema_name,
    staging_columns,
    table_name,
)

DEFAULT_FILE_FORMAT = "GPI_PARQUET"
DEFAULT_MANIFEST_FILE_FORMAT = "GPI_MANIFEST_JSON"
MANIFESTS_PIPE = "MANIFESTS_PIPE"
DEFAULT_STAGE = "GPI_LANDING_STAGE"
DEFAULT_STORAGE_INTEGRATION = "GPI_LANDING_S3"

RUN_ID_SQL = "SPLIT_PART(METADATA$FILENAME, '-', 2) || '-' || SPLIT_PART(SPLIT_PART(METADATA$FILENAME, '-', 3), '.', 1)"


def _qualify(name: str, database: str, schema: str) -> str:
    return name if "." in name else f"{database}.{schema}.{name}"


@dataclass(frozen=True)
class StagingTable:
    """One staging table: unquoted name, schema, dataset and columns (name, type, nullable), and on Snowflake its
    clustering key: the dataset's partition columns (`Partition.columns`), which the session-incremental staging
    models join on (macros/cross_database.sql `current_run_rows`), so that a build after one session prunes the
    micro-partitions of the others."""

    name: str
    schema: str
    dataset: str
    columns: tuple[StagingColumn, ...]
    comment: str = ""
    cluster_by: tuple[str, ...] = ()

    def create_sql(self, database: str | None = None) -> str:
        schema = f"{database}.{self.schema}" if database else self.schema
        sql = create_table_sql(schema, self.name, list(self.columns))
        return f"{sql} CLUSTER BY ({', '.join(self.cluster_by)})" if self.cluster_by else sql


def staging_tables(dialect: Dialect = "snowflake") -> list[StagingTable]:
    """The staging table of every dataset, columns in order with the load metadata columns last."""
    return [
        StagingTable(
            name=table_name(spec, dialect),
            schema=schema_name(dialect),
            dataset=spec.name,
            columns=tuple(staging_columns(spec, dialect)),
            comment=spec.description,
            cluster_by=spec.partition.columns if dialect == "snowflake" else (),
        )
        for spec in DATASETS.values()
    ]


def _create_file_format(qualified_name: str, **options: str | bool) -> str:
    """CREATE FILE FORMAT with `options` in their order; a bool is written TRUE/FALSE."""
    written = " ".join(f"{k} = {str(v).upper() if isinstance(v, bool) else v}" for k, v in options.items())
    return f"CREATE FILE FORMAT IF NOT EXISTS {qualified_name}\n    {written}"


@dataclass(frozen=True)
class FileFormat:
    """A Parquet file format (Pulumi: ``snowflake.FileFormat(format_type="PARQUET", ...)``)."""

    name: str
    format_type: str = "PARQUET"
    use_logical_type: bool = True
    binary_as_text: bool = False
    compression: str = "AUTO"

    def create_sql(self, database: str, schema: str) -> str:
        return _create_file_format(
            _qualify(self.name, database, schema),
            TYPE=self.format_type,
            USE_LOGICAL_TYPE=self.use_logical_type,
            BINARY_AS_TEXT=self.binary_as_text,
            COMPRESSION=self.compression,
        )


def file_format(name: str = DEFAULT_FILE_FORMAT) -> FileFormat:
    return FileFormat(name=name)


@dataclass(frozen=True)
class JsonFileFormat:
    """The manifests' JSON file format, one object per file (Pulumi: ``snowflake.FileFormatJson``)."""

    name: str
    format_type: str = "JSON"
    strip_outer_array: bool = False
    compression: str = "AUTO"

    def create_sql(self, database: str, schema: str) -> str:
        return _create_file_format(
            _qualify(self.name, database, schema),
            TYPE=self.format_type,
            STRIP_OUTER_ARRAY=self.strip_outer_array,
            COMPRESSION=self.compression,
        )


def manifest_file_format(name: str = DEFAULT_MANIFEST_FILE_FORMAT) -> JsonFileFormat:
    return JsonFileFormat(name=name)


@dataclass(frozen=True)
class ExternalStage:
    """The external stage on the landing bucket (Pulumi: ``snowflake.StageExternalS3``)."""

    name: str
    url: str
    storage_integration: str
    file_format: str

    def create_sql(self, database: str, schema: str) -> str:
        return (
            f"CREATE STAGE IF NOT EXISTS {_qualify(self.name, database, schema)}\n"
            f"    URL = '{self.url}'\n"
            f"    STORAGE_INTEGRATION = {self.storage_integration}\n"
            f"    FILE_FORMAT = (FORMAT_NAME = '{_qualify(self.file_format, database, schema)}')"
        )


def external_stage(
    bucket: str,
    storage_integration: str = DEFAULT_STORAGE_INTEGRATION,
    *,
    name: str = DEFAULT_STAGE,
    file_format_name: str = DEFAULT_FILE_FORMAT,
) -> ExternalStage:
    if not bucket or "/" in bucket or bucket.startswith("s3:"):
        raise ValueError(f"expected a bucket name such as 'gpi-prod-landing', got {bucket!r}")
    return ExternalStage(
        name=name, url=f"s3://{bucket}/", storage_integration=storage_integration, file_format=file_format_name
    )


def dataset_prefix(spec: DatasetSpec) -> str:
    """The S3 prefix of a dataset's files: ``dataset=<name>/``."""
    return f"{DATA_PREFIX}{spec.name}/"


def copy_statement(dataset: DatasetSpec | str, *, database: str, schema: str, stage: str, file_format: str) -> str:
    """The pipe's COPY: the dataset's prefix of the stage into its staging table, with load metadata."""
    spec = dataset if isinstance(dataset, DatasetSpec) else dataset_spec(dataset)
    cols = dataset_columns(spec, "snowflake")
    target = ", ".join([c.name for c in cols] + [LOAD_TIME, FILE_NAME, RUN_ID, ROW_NUMBER])
    select = ",\n        ".join(
        [f"$1:{c.name}::{c.type}" for c in cols]
        + [
            "METADATA$START_SCAN_TIME::TIMESTAMP_TZ",
            "METADATA$FILENAME",
            RUN_ID_SQL,
            "METADATA$FILE_ROW_NUMBER",
        ]
    )
    table = f"{database}.{schema}.{table_name(spec, 'snowflake')}"
    return (
        f"COPY INTO {table} ({target})\n"
        f"FROM (\n    SELECT\n        {select}\n"
        f"    FROM @{_qualify(stage, database, schema)}/{dataset_prefix(spec)}\n)\n"
        f"FILE_FORMAT = (FORMAT_NAME = '{_qualify(file_format, database, schema)}')"
    )


@dataclass(frozen=True)
class PipeDefinition:
    """One auto-ingest pipe per dataset (Pulumi: ``snowflake.Pipe(copy_statement=..., auto_ingest=True)``)."""

    name: str
    table: str
    dataset: str
    prefix: str
    copy_statement: str
    auto_ingest: bool = True

    def create_sql(self, database: str, schema: str) -> str:
        return (
            f"CREATE PIPE IF NOT EXISTS {database}.{schema}.{self.name}\n"
            f"    AUTO_INGEST = {str(self.auto_ingest).upper()}\n"
            f"AS\n{self.copy_statement}"
        )


def pipe_name(spec: DatasetSpec) -> str:
    return f"{spec.name.upper()}_PIPE"


def pipe_definitions(database: str, schema: str, stage: str, file_format: str) -> list[PipeDefinition]:
    """One pipe per dataset, each loading ``dataset=<name>/`` of the stage into the dataset's staging table."""
    return [
        PipeDefinition(
            name=pipe_name(spec),
            table=table_name(spec, "snowflake"),
            dataset=spec.name,
            prefix=dataset_prefix(spec),
            copy_statement=copy_statement(spec, database=database, schema=schema, stage=stage, file_format=file_format),
        )
        for spec in DATASETS.values()
    ]


# load_manifests' columns from the manifest JSON (f1common.manifest.Manifest), in table order.
_MANIFEST_SELECT = (
    "$1:run_id::VARCHAR",
    "$1:source::VARCHAR",
    "$1:session:season::NUMBER(38,0)",
    "$1:session:round::NUMBER(38,0)",
    "$1:session:session::VARCHAR",
    "$1:created_at::TIMESTAMP_TZ",
    "$1:files",
    "METADATA$FILENAME",
    "METADATA$START_SCAN_TIME::TIMESTAMP_TZ",
)


def manifest_pipe_definition(database: str, schema: str, stage: str, file_format: str) -> PipeDefinition:
    """The pipe that loads every manifest (``manifests/``) into ``load_manifests``, as the loader records them."""
    columns = [c.name for c in bookkeeping_columns("snowflake")[LOAD_MANIFESTS]]
    table = LOAD_MANIFESTS.upper()
    select = ",\n        ".join(_MANIFEST_SELECT)
    copy = (
        f"COPY INTO {database}.{schema}.{table} ({', '.join(columns)})\n"
        f"FROM (\n    SELECT\n        {select}\n"
        f"    FROM @{_qualify(stage, database, schema)}/{MANIFEST_PREFIX}\n)\n"
        f"FILE_FORMAT = (FORMAT_NAME = '{_qualify(file_format, database, schema)}')"
    )
    return PipeDefinition(
        name=MANIFESTS_PIPE, table=table, dataset="manifests", prefix=MANIFEST_PREFIX, copy_statement=copy
    )


def storage_integration_sql(name: str, bucket: str, role_arn: str) -> str:
    return (
        f"CREATE STORAGE INTEGRATION IF NOT EXISTS {name}\n"
        "    TYPE = EXTERNAL_STAGE STORAGE_PROVIDER = 'S3' ENABLED = TRUE\n"
        f"    STORAGE_AWS_ROLE_ARN = '{role_arn}'\n"
        f"    STORAGE_ALLOWED_LOCATIONS = ('s3://{bucket}/')"
    )


def render_setup_sql(
    *,
    database: str,
    bucket: str,
    schema: str = schema_name("snowflake"),
    storage_integration: str = DEFAULT_STORAGE_INTEGRATION,
    storage_aws_role_arn: str | None = None,
    stage_name: str = DEFAULT_STAGE,
    file_format_name: str = DEFAULT_FILE_FORMAT,
    manifest_file_format_name: str = DEFAULT_MANIFEST_FILE_FORMAT,
) -> str:
    """The whole Snowpipe setup as one idempotent SQL script (for accounts managed without Pulumi).

    After running it, point the bucket's S3 event notifications (prefixes ``dataset=`` and ``manifests/``)
    at the SQS queue shown in the ``notification_channel`` column of ``SHOW PIPES``. The last statement
    loads the manifests that were landed before the manifests pipe existed (COPY skips those it loaded).
    """
    fmt = file_format(file_format_name)
    manifest_fmt = manifest_file_format(manifest_file_format_name)
    stage = external_stage(bucket, storage_integration, name=stage_name, file_format_name=file_format_name)
    statements = [f"CREATE DATABASE IF NOT EXISTS {database}", f"USE DATABASE {database}"]
    if storage_aws_role_arn:
        statements.append(storage_integration_sql(storage_integration, bucket, storage_aws_role_arn))
    statements += all_ddl("snowflake", f"{database}.{schema}")
    statements += [
        fmt.create_sql(database, schema),
        manifest_fmt.create_sql(database, schema),
        stage.create_sql(database, schema),
    ]
    pipes = pipe_definitions(database, schema, stage_name, file_format_name)
    manifests = manifest_pipe_definition(database, schema, stage_name, manifest_file_format_name)
    statements += [p.create_sql(database, schema) for p in [*pipes, manifests]]
    statements.append(manifests.copy_statement)
    header = f"-- Grand Prix Insights: Snowpipe setup for {database}.{schema}, landing bucket s3://{bucket}/\n"
    return header + "\n\n".join(s + ";" for s in statements) + "\n"
