"""Benchmark: the CPU one request to the embedded stack's emulated AWS costs, client and server together.

The requests are the kinds an ingestion and a load make, against the embedded stack's moto server
(`grandprix_local.stack.moto_server`, in this process, as in `grandprix run`):

* an S3 PUT of a 100 kB object (a landed Parquet file), its re-tag (`put_object_tagging`), and a GET of it;
* a conditional DynamoDB `UpdateItem` (a claim or a calendar write).

Each kind runs `--repeat` times after a warm-up; the report gives the CPU milliseconds per request (this process:
the botocore client and the server's threads) and which `urllib3` botocore runs on here.

    PYTHONPATH=libs/f1common:local python bench/request_cost_bench.py [--repeat 200]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench_report import header, say

COMMAND = "PYTHONPATH=libs/f1common:local python bench/request_cost_bench.py"
BUCKET = "gpi-bench-requests"
TABLE = "gpi-bench-requests"
BODY = os.urandom(100_000)


def urllib3_flavour() -> str:
    """The urllib3 botocore imports: `urllib3-future` installs itself under the name `urllib3`."""
    import urllib3

    try:
        future = importlib.metadata.version("urllib3-future")
    except importlib.metadata.PackageNotFoundError:
        future = None
    here = f"urllib3 {urllib3.__version__} from {os.path.dirname(urllib3.__file__ or '')}"
    if future is not None and urllib3.__version__ == future:
        return f"{here} (urllib3-future, which replaces urllib3)"
    return here


def per_request_ms(call: Callable[[int], Any], repeat: int) -> float:
    for i in range(repeat, repeat + 5):  # warm-up (keys of its own): the server's first request per service
        call(i)
    started = time.process_time()
    for i in range(repeat):
        call(i)
    return (time.process_time() - started) / repeat * 1000


def main(argv: Sequence[str] | None = None) -> int:
    import boto3

    from grandprix_local.stack import moto_server

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="requests of each kind")
    args = parser.parse_args(argv)
    header(COMMAND, needs_f1data=False)
    say(f"botocore runs on {urllib3_flavour()}")
    with moto_server():
        s3 = boto3.client("s3", region_name="eu-west-1")
        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        kinds: dict[str, Callable[[int], Any]] = {
            "S3 PUT, 100 kB": lambda i: s3.put_object(Bucket=BUCKET, Key=f"k{i}", Body=BODY),
            "S3 re-tag": lambda i: s3.put_object_tagging(
                Bucket=BUCKET, Key=f"k{i}", Tagging={"TagSet": [{"Key": "publication", "Value": "published"}]}
            ),
            "S3 GET, 100 kB": lambda i: s3.get_object(Bucket=BUCKET, Key=f"k{i}")["Body"].read(),
            "DynamoDB conditional UpdateItem": lambda i: dynamodb.update_item(
                TableName=TABLE,
                Key={"pk": {"S": f"p{i}"}},
                UpdateExpression="SET #s = :s",
                ConditionExpression="attribute_not_exists(#s) OR #s <> :s",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":s": {"S": "CLAIMED"}},
            ),
        }
        for name, call in kinds.items():
            say(f"  {name:<32} {per_request_ms(call, args.repeat):5.2f} ms CPU per request ({args.repeat} requests)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
