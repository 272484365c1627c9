"""Each service's Pants package runs as Lambda runs it, against the embedded stack, on real data.

Every image package is built the way the AWS stack builds it (gpi_infra.components.service_code: the
build-support/lambda.Dockerfile, the package's directory as the build context) on a local stand-in for its base;
all four share that base image, and Docker's layer cache keeps each image between runs until its package
changes. Zip packages run on the plain Debian CPython 3.11 with only the runtime interface client beside them,
as AWS's managed python3.11 runtime does. Each container starts with its real entrypoint against a local Lambda
Runtime API, as Lambda runs it: a read-only root file system (so /var/task and the user's home too), a tmpfs at
/tmp of the function's ephemeral storage, its memory, a user of its own; it reaches moto (and, for the loader,
fakesnow's Snowflake server) on 127.0.0.1 through host networking. The invocations chain like the cloud's: the
scheduler's schedule event creates the ingestion schedule, whose input the ingestion function gets; the S3
notifications of the landed files reach the loader as one SQS batch; the manifests' events (the stack's
EventBridge rule) reach the transformer as an SQS batch, whose dbt build runs the `local` target on the
embedded stack's DuckDB warehouse (mounted as Lambda mounts EFS), staged from the same landed files.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import shutil
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from f1common.clients import aws_client
from f1common.datasets import Dataset, dataset_spec
from f1common.layout import DATA_PREFIX, MANIFEST_PREFIX
from f1common.names import METRICS_NAMESPACE
from f1common.schedule import load_schedule
from f1common.settings import Settings
from f1common.testing import f1data_dir_or_skip
from grandprix_local.stack import StackResources, moto_server, provision
from lambda_packages.containers import (
    LAMBDA_USER,
    REQUIRE_ENV,
    Container,
    Docker,
    DockerUnavailable,
    Function,
    base_image,
    docker_daemon,
    running,
)
from transformer.handler import LAMBDA_ARTIFACTS

REGION = "eu-west-1"
STAGE = "dev"
DOCKERFILE = Path("build-support/lambda.Dockerfile")
BASE_IMAGE_SCRIPT = Path("tools/lambda-base-image")
# How each service ships (build-support/lambda.py), with the memory, timeout and /tmp the stack gives it
# (infra/pulumi/gpi_infra/config.py).
PACKAGES: dict[str, tuple[str, int, int, int]] = {
    "scheduler": ("image", 512, 300, 512),
    "ingestion": ("image", 1024, 600, 2048),
    "loader": ("image", 512, 300, 512),
    "transformer": ("image", 2048, 900, 2048),
}
RUNTIME_DISTRIBUTIONS = ("awslambdaric", "simplejson", "snapshot-restore-py")  # AWS's runtime, not ours
# Marts with one row per lap or per session of the race (the transformer's build reaches them).
TRANSFORMED_MARTS = ("mart_positions_by_lap", "mart_lap_weather", "mart_session_pace_weather")
# Beside the handler's artifacts, under Lambda's only writable path: where the prod target's parse writes.
PROD_PARSE_DIR = LAMBDA_ARTIFACTS.parent / "dbt-prod"
AUSTRALIA_2025_RACE_START = dt.datetime(2025, 3, 16, 4, 0, tzinfo=dt.UTC)


def package_zip(service: str) -> Path:
    return Path(f"services.{service}/lambda.zip")


# --- the environment: Docker, the base image, moto, fakesnow ----------------------------------------------


@pytest.fixture(scope="module")
def docker() -> Iterator[Docker]:
    try:
        with docker_daemon() as found:
            yield found
    except DockerUnavailable as exc:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"Docker is required here ({REQUIRE_ENV}=1): {exc}")
        pytest.skip(f"Docker cannot run here: {exc}")


@pytest.fixture(scope="module")
def base(docker: Docker) -> str:
    return base_image(docker, BASE_IMAGE_SCRIPT)


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[Settings, StackResources]]:
    f1data_dir_or_skip()
    with moto_server():
        settings = Settings(stage=STAGE, aws_region=REGION)
        yield settings, provision(settings)


@pytest.fixture(scope="module")
def snowflake_server() -> Iterator[dict[str, Any]]:
    import logging

    import fakesnow

    with fakesnow.server() as kwargs:
        logging.getLogger("uvicorn.access").setLevel(logging.WARNING)  # one line per query otherwise
        yield kwargs


# --- deploying a package ------------------------------------------------------------------------------


def image_for(docker: Docker, base: str, service: str) -> str:
    """Builds the service's image from build-support/lambda.Dockerfile with the package's directory as the build
    context, as the AWS stack does (ContainerImage: `context=zip_path.parent`)."""
    tag = f"gpi-{service}:test"
    started = time.perf_counter()
    docker.run(
        "build",
        "--quiet",
        "--network=none",
        f"--build-arg=BASE_IMAGE={base}",
        f"--file={DOCKERFILE}",
        f"--tag={tag}",
        str(package_zip(service).parent),
        timeout=900,
    )
    print(f"{service}: image built in {time.perf_counter() - started:.1f} s")
    return tag


def unpacked(work: Path, service: str) -> Path:
    """The package zip unpacked (world-readable, as the image's COPY leaves it), to mount as /var/task."""
    task = work / f"{service}-task"
    with zipfile.ZipFile(package_zip(service)) as archive:
        archive.extractall(task)
    for path in [task, *task.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return task


def zip_runtime(work: Path) -> Path:
    """The runtime interface client alone, as the managed runtime's /var/runtime."""
    runtime = work / "runtime"
    if not runtime.exists():
        for name in RUNTIME_DISTRIBUTIONS:
            dist = importlib.metadata.distribution(name)
            for file in dist.files or ():
                source = Path(str(dist.locate_file(file)))
                if source.is_file() and "__pycache__" not in file.parts:
                    (runtime / file).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(source, runtime / file)
        for path in [runtime, *runtime.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    return runtime


def function(
    docker: Docker,
    base: str,
    service: str,
    work: Path,
    environment: dict[str, str],
    mounts: tuple[tuple[Path, str], ...] = (),
    command: tuple[str, ...] = (),
    volumes: tuple[tuple[Path, str], ...] = (),
) -> Function:
    kind, memory, timeout, tmp = PACKAGES[service]
    env = {
        "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "POWERTOOLS_SERVICE_NAME": service,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        **environment,
    }
    name = f"gpi-{STAGE}-{service}"
    handler = command or ("lambda_function.handler",)
    if kind == "image":
        return Function(
            name, image_for(docker, base, service), memory, timeout, tmp, env, command, mounts, volumes=volumes
        )
    task = ((unpacked(work, service), "/var/task"),)
    # What the managed runtime sets: its own code on the path, the task root, the runtime's name.
    env = {**env, "PYTHONPATH": "/var/runtime", "LAMBDA_TASK_ROOT": "/var/task"}
    env["AWS_EXECUTION_ENV"] = "AWS_Lambda_python3.11"
    return Function(
        name,
        base,
        memory,
        timeout,
        tmp,
        env,
        command=("python3", "-m", "awslambdaric", *handler),
        mounts=(*task, (zip_runtime(work), "/var/runtime"), *mounts),
        workdir="/var/task",
        volumes=volumes,
    )


def common_env(settings: Settings) -> dict[str, str]:
    """What the AWS stack gives every function (gpi_infra.aws_stack), for this stage's resources."""
    return {
        "GPI_STAGE": settings.stage,
        "GPI_LANDING_BUCKET": settings.bucket,
        "GPI_CALENDAR_TABLE": settings.table,
        "GPI_LOADER_QUEUE": settings.queue,
        "GPI_INGESTION_DLQ": settings.dlq,
        "GPI_SCHEDULE_GROUP": settings.group,
    }


def written_only_to_tmp(fn: Container, service: str) -> list[str]:
    """The function wrote nothing outside /tmp (its root file system, /var/task and its home are read-only, so a
    write there fails the invocation); returns, and prints a summary of, what it wrote under /tmp."""
    assert fn.changed() == [], f"{service} changed its read-only file system"
    files = fn.files("/tmp")
    tops = sorted({"/".join(f.split("/")[:3]) for f in files})
    print(f"{service}: {len(files)} files written, all under /tmp: {', '.join(tops)}")
    return files


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lambda")


# --- the chain: schedule -> ingestion -> loader -------------------------------------------------------


@pytest.fixture(scope="module")
def race_schedule(docker: Docker, base: str, work: Path, stack: tuple[Settings, StackResources]) -> dict[str, Any]:
    """The scheduler container syncs the 2025 calendar (FastF1 in its package, on the shared cache), then plans
    the Australian GP race in a second, warm invocation."""
    settings, resources = stack
    f1data = f1data_dir_or_skip()
    env = {
        **common_env(settings),
        "GPI_INGESTION_FUNCTION_ARN": resources.ingestion_function_arn,
        "GPI_SCHEDULER_ROLE_ARN": resources.scheduler_role_arn,
        "GPI_INGESTION_DLQ_ARN": resources.dlq_arn,
        "GPI_F1DATA_DIR": "/opt/f1data",
        "GPI_FASTF1_CACHE_DIR": "/tmp/fastf1-cache",
    }
    scheduler = function(docker, base, "scheduler", work, env, mounts=((f1data, "/opt/f1data"),))
    week_before = AUSTRALIA_2025_RACE_START - dt.timedelta(days=7)
    now = AUSTRALIA_2025_RACE_START + dt.timedelta(hours=1, minutes=30)
    with running(docker, scheduler, REGION) as fn:
        started = time.perf_counter()
        synced = fn.invoke({"action": "sync", "season": 2025, "now": week_before.isoformat()})
        print(f"scheduler: 2025 calendar synced in {time.perf_counter() - started:.1f} s (cold start included)")
        started = time.perf_counter()
        result = fn.invoke({"action": "schedule", "now": now.isoformat()})
        print(f"scheduler: schedule event answered in {time.perf_counter() - started:.1f} s (warm)")
        written_only_to_tmp(fn, "scheduler")
    # Every session of the season's schedule became a calendar item.
    assert synced["seasons"][0]["created"] == len(load_schedule(2025, settings)), synced
    assert result["action"] == "schedule"
    races = [name for name in result["scheduled"] if name.endswith("2025-01-R-a1")]
    assert len(races) == 1, result
    return dict(aws_client("scheduler", settings).get_schedule(GroupName=settings.group, Name=races[0]))


def test_scheduler_plans_the_race_from_a_schedule_event(race_schedule: dict[str, Any]) -> None:
    # One hour after the expected end (start + 2 h), as configured; the target is the ingestion function.
    assert race_schedule["ScheduleExpression"] == "at(2025-03-16T07:00:00)"
    target = race_schedule["Target"]
    assert target["Arn"].endswith(":function:gpi-dev-ingestion")
    assert json.loads(target["Input"])["session"] == "R"


@pytest.fixture(scope="module")
def ingested(
    docker: Docker, base: str, work: Path, stack: tuple[Settings, StackResources], race_schedule: dict[str, Any]
) -> dict[str, Any]:
    """The ingestion container gets the schedule's input, as EventBridge Scheduler would send it."""
    settings, _ = stack
    f1data = f1data_dir_or_skip()
    env = {**common_env(settings), "GPI_F1DATA_DIR": "/opt/f1data", "GPI_FASTF1_CACHE_DIR": "/tmp/fastf1-cache"}
    ingestion = function(docker, base, "ingestion", work, env, mounts=((f1data, "/opt/f1data"),))
    with running(docker, ingestion, REGION) as fn:
        started = time.perf_counter()
        outcome = fn.invoke(json.loads(race_schedule["Target"]["Input"]))
        print(f"ingestion: 2025-01-R ingested in {time.perf_counter() - started:.1f} s (cold start included)")
        written_only_to_tmp(fn, "ingestion")
    return outcome


def test_ingestion_lands_one_real_session(ingested: dict[str, Any], stack: tuple[Settings, StackResources]) -> None:
    settings, _ = stack
    assert ingested["status"] == "ingested", ingested
    assert ingested["session"] == {"season": 2025, "round": 1, "session": "R"}
    manifest_keys = [
        o["Key"]
        for o in aws_client("s3", settings)
        .list_objects_v2(Bucket=settings.bucket, Prefix="manifests/")
        .get("Contents", [])
    ]
    assert manifest_keys == [f"manifests/{ingested['run_id']}.json"]
    body = aws_client("s3", settings).get_object(Bucket=settings.bucket, Key=manifest_keys[0])["Body"]
    manifest = json.loads(body.read())
    laps = [f for f in manifest["files"] if f["dataset"] == "laps"]
    assert [f["rows"] for f in laps] == [927]  # the real race's laps (shared data README)


def sqs_batches(settings: Settings, queue_url: str) -> Iterator[dict[str, Any]]:
    """The loader queue's messages (moto's S3 notifications) as the event source mapping delivers them."""
    sqs = aws_client("sqs", settings)
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        yield {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn,
                    "awsRegion": REGION,
                }
                for m in messages
            ]
        }
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )


def test_loader_loads_the_session_from_its_sqs_batches(
    docker: Docker,
    base: str,
    work: Path,
    stack: tuple[Settings, StackResources],
    ingested: dict[str, Any],
    snowflake_server: dict[str, Any],
) -> None:
    import snowflake.connector
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    settings, resources = stack
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    secret = aws_client("secretsmanager", settings).create_secret(
        Name=f"gpi-{STAGE}/snowflake/loader-private-key", SecretString=pem.decode()
    )
    database = settings.names.warehouse_database
    env = {
        **common_env(settings),
        "GPI_WAREHOUSE": "snowflake",
        "GPI_SNOWFLAKE_ACCOUNT": "gpi-test",
        "GPI_SNOWFLAKE_USER": f"{database}_LOADER_SVC",
        "GPI_SNOWFLAKE_ROLE": f"{database}_LOADER",
        "GPI_SNOWFLAKE_WAREHOUSE": f"{database}_LOAD_WH",
        "GPI_SNOWFLAKE_DATABASE": database,
        "GPI_SNOWFLAKE_PRIVATE_KEY_SECRET_ID": secret["ARN"],
        "GPI_SNOWFLAKE_HOST": snowflake_server["host"],
        "GPI_SNOWFLAKE_PORT": str(snowflake_server["port"]),
        "GPI_SNOWFLAKE_PROTOCOL": snowflake_server["protocol"],
    }
    with snowflake.connector.connect(**snowflake_server) as conn:
        conn.cursor().execute(f"CREATE DATABASE IF NOT EXISTS {database}")
    loader = function(docker, base, "loader", work, env)
    failures: list[Any] = []
    with running(docker, loader, REGION) as fn:
        started = time.perf_counter()
        batches = 0
        for batch in sqs_batches(settings, resources.loader_queue_url):
            failures += fn.invoke(batch)["batchItemFailures"]
            batches += 1
        print(f"loader: {batches} SQS batches loaded in {time.perf_counter() - started:.1f} s (cold start included)")
        written_only_to_tmp(fn, "loader")
    assert batches >= 1 and failures == []
    with snowflake.connector.connect(**snowflake_server) as conn:
        cur = conn.cursor()
        loaded = {}
        for dataset in ingested["rows"]:
            table = dataset_spec(Dataset(dataset)).staging_table
            cur.execute(f"SELECT COUNT(*) FROM {database}.STAGING.{table} WHERE _run_id = %s", (ingested["run_id"],))
            [(loaded[dataset],)] = cur.fetchall()
    assert loaded == ingested["rows"]
    assert loaded["laps"] == 927


# --- the transformer: the manifests' events -> one dbt build ------------------------------------------------

WAREHOUSE_MOUNT = "/mnt/warehouse"  # where Lambda mounts an EFS access point; the embedded stack's warehouse here


@pytest.fixture(scope="module")
def staged_warehouse(work: Path, stack: tuple[Settings, StackResources], ingested: dict[str, Any]) -> Path:
    """The embedded stack's DuckDB warehouse, every landed run staged: the race the ingestion container landed,
    and the Ergast history and the 2025 schedule (the models' identities and event names), landed by the
    ingestion service in this process; all loaded by the embedded stack's loader, as `grandprix local run` does."""
    from ingestion.handler import route
    from ingestion.landing import list_keys
    from loader.duckdb_warehouse import DuckDBWarehouse
    from loader.loading import Outcome, load_keys

    settings = Settings(stage=STAGE, aws_region=REGION, f1data_dir=f1data_dir_or_skip())
    s3, dynamodb = aws_client("s3", settings), aws_client("dynamodb", settings)
    started = time.perf_counter()
    for event in ({"kind": "ergast_backfill"}, {"kind": "schedule", "season": 2025}):
        route(event, settings=settings, s3=s3, dynamodb=dynamodb)
    landed = time.perf_counter()
    keys = [k for prefix in (DATA_PREFIX, MANIFEST_PREFIX) for k in list_keys(s3, settings.bucket, prefix)]
    directory = work / "warehouse"
    directory.mkdir()
    path = directory / "warehouse.duckdb"
    with DuckDBWarehouse.open(path) as warehouse:
        report = load_keys(keys, s3=s3, bucket=settings.bucket, warehouse=warehouse)
    assert not [r for r in report.results if r.outcome in (Outcome.QUARANTINED, Outcome.PENDING)]
    print(
        f"transformer: history and schedule landed in {landed - started:.1f} s, {len(keys)} files staged in "
        f"DuckDB in {time.perf_counter() - landed:.1f} s"
    )
    for item in (directory, path):  # the function's user writes it (dbt builds into it)
        item.chmod(0o777 if item.is_dir() else 0o666)
    return path


def transform_log(fn: Container) -> list[dict[str, Any]]:
    """The handler's `transform` log records (Powertools JSON on the function's stdout)."""
    records = []
    for line in fn.logs().splitlines():
        if line.startswith("{") and '"transform"' in line:
            record = json.loads(line)
            if record.get("message") == "transform":
                records.append(record)
    return records


def test_transformer_builds_the_marts_from_the_manifests_sqs_batch(
    docker: Docker,
    base: str,
    work: Path,
    stack: tuple[Settings, StackResources],
    ingested: dict[str, Any],
    staged_warehouse: Path,
) -> None:
    """The manifests' events, as the stack's EventBridge rule queues them, reach the transformer container as an
    SQS batch; its dbt build (the `local` target: dbt-duckdb on the mounted warehouse) publishes the race in the
    facts and the marts, with dbt's target/, logs/ and the state files only under /tmp. A second request (an
    operator's, as `grandprix cloud transform` sends it) finds nothing new: no dbt run, the state from S3."""
    from f1common.transform import TransformRequest

    settings, resources = stack
    env = {
        **common_env(settings),
        "GPI_WAREHOUSE": "duckdb",
        "GPI_WAREHOUSE_PATH": f"{WAREHOUSE_MOUNT}/{staged_warehouse.name}",
    }
    transformer = function(
        docker, base, "transformer", work, env, volumes=((staged_warehouse.parent, WAREHOUSE_MOUNT),)
    )
    sqs = aws_client("sqs", settings)
    failures: list[Any] = []
    with running(docker, transformer, REGION) as fn:
        started = time.perf_counter()
        batches = list(sqs_batches(settings, resources.transformer_queue_url))
        for batch in batches:
            failures += fn.invoke(batch)["batchItemFailures"]
        print(
            f"transformer: {len(batches)} SQS batches built in {time.perf_counter() - started:.1f} s "
            "(cold start included)"
        )
        sqs.send_message(
            QueueUrl=resources.transformer_queue_url, MessageBody=TransformRequest(kind="manual").model_dump_json()
        )
        started = time.perf_counter()
        [again] = list(sqs_batches(settings, resources.transformer_queue_url))
        failures += fn.invoke(again)["batchItemFailures"]
        print(f"transformer: a request with nothing new answered in {time.perf_counter() - started:.1f} s (warm)")
        written = written_only_to_tmp(fn, "transformer")
        log = transform_log(fn)
    assert failures == []
    # the race's manifest, the Ergast history's and the schedule's: each announced on the transformer queue
    assert sum(len(b["Records"]) for b in batches) == 3
    assert [r["dbt_started"] for r in log] == [True] * len(batches) + [False], log
    assert log[0]["full_refresh"] is True  # the first build on a warehouse
    # dbt's artifacts and logs, and the transformer's state, under the handler's own artifacts directory
    artifacts = {
        str(LAMBDA_ARTIFACTS / name) for name in ("target/manifest.json", "target/run_results.json", "logs/dbt.log")
    }
    assert artifacts <= set(written)
    state = aws_client("s3", settings).list_objects_v2(Bucket=settings.bucket, Prefix="transformer/")
    assert state.get("KeyCount", 0) > 0
    with duckdb.connect(str(staged_warehouse), read_only=True) as con:
        laps = con.execute(
            "select count(*) from analytics.fct_laps where session_key in (select session_key from"
            " analytics.dim_sessions where season = 2025 and round = 1 and session = 'R')"
        ).fetchall()
        marts = {
            mart: con.execute(
                f"select count(*) from analytics.{mart} where season = 2025 and round = 1 " "and session = 'R'"
            ).fetchall()[0][0]
            for mart in TRANSFORMED_MARTS
        }
    assert laps == [(927,)]
    assert all(marts.values()), marts


def test_transformer_parses_the_prod_target_on_lambdas_file_system(
    docker: Docker, base: str, work: Path, stack: tuple[Settings, StackResources]
) -> None:
    """The cloud's branch of the same image: with the environment the AWS stack gives the function in Snowflake mode
    (the dev stage's Snowflake stack outputs), the transformer's dbt environment renders the profile's `prod` target
    and dbt parses the project with dbt-snowflake, on the read-only file system with no writable home (the Snowflake
    connector's caches included), writing only under /tmp. Without a Snowflake account nothing connects: the build
    itself is proven on the `local` target above."""
    settings, _ = stack
    env = {
        **common_env(settings),
        "GPI_WAREHOUSE": "snowflake",
        "GPI_SNOWFLAKE_ACCOUNT": "ACME-GPI",
        "GPI_SNOWFLAKE_USER": "GPI_DEV_DBT_SVC",
        "GPI_SNOWFLAKE_ROLE": "GPI_DEV_TRANSFORMER",
        "GPI_SNOWFLAKE_WAREHOUSE": "GPI_DEV_TRANSFORM_WH",
        "GPI_SNOWFLAKE_PRIVATE_KEY_SECRET_ID": "gpi/dev/snowflake/transformer-key",
    }
    parse = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from dbt_runner.runner import run_dbt\n"
        "from f1common.settings import Settings\n"
        "from transformer.handler import PROD_TARGET, dbt_environment\n"
        "out = Path(sys.argv[1])\n"
        "env = dbt_environment(Settings(), out / 'snowflake-key.p8')\n"
        "run = run_dbt(['parse', '--quiet'], target=PROD_TARGET, env=env, artifacts_dir=out)\n"
        "manifest = json.loads((out / 'target' / 'manifest.json').read_text())\n"
        "print(json.dumps({'success': run.success, 'env': env, 'adapter': manifest['metadata']['adapter_type'],\n"
        "                  'models': sum(1 for n in manifest['nodes'].values() if n['resource_type'] == 'model')}))\n"
    )
    transformer = function(docker, base, "transformer", work, env)
    with running(docker, transformer, REGION) as fn:
        out = docker.run("exec", f"--user={LAMBDA_USER}", fn.id, "python3", "-c", parse, str(PROD_PARSE_DIR))
        written = written_only_to_tmp(fn, "transformer (prod target)")
    parsed = json.loads(out.strip().splitlines()[-1])
    assert parsed["success"] is True, out
    assert parsed["adapter"] == "snowflake"
    assert parsed["models"] > 0
    assert parsed["env"]["SNOWFLAKE_DATABASE"] == settings.names.warehouse_database == "GPI_DEV"
    assert parsed["env"]["SNOWFLAKE_ROLE"] == "GPI_DEV_TRANSFORMER"
    assert str(PROD_PARSE_DIR / "target" / "manifest.json") in written
