"""The SQS -> Lambda triggers, emulated: the embedded stack's queues delivered to the services.

In the cloud an event source mapping polls a queue and invokes its Lambda with batches, deleting the messages
not reported in ``batchItemFailures``; failed messages stay on the queue (visible again after their
visibility timeout).

- The loader queue (:func:`drain_queue`): batches of up to ten messages, built from ``receive_message``, to
  the same batch function the loader Lambda runs (:func:`loader.consumer.load_batch`), until it is empty;
  :class:`BackgroundDrain` runs such drains on a thread of their own, beside the caller, as the mapping polls the
  queue while the ingestions run.
- The transformer queue (:func:`deliver`): the mapping gathers the queue's messages for its batching window
  (the debounce: a burst of landed runs becomes one batch) and the function's reserved concurrency of one
  makes builds one at a time. Here one delivery is everything the queue holds at that moment, up to the
  mapping's batch size, given to the transformer's handler.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from f1common.lambda_context import LocalContext
from f1common.transform import BATCH_SIZE
from loader.consumer import load_batch
from loader.loading import LoadReport, StagingWarehouse

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def sqs_event(messages: list[dict[str, Any]], queue_arn: str = "") -> dict[str, Any]:
    """The Lambda event an SQS event source mapping delivers for received messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
            }
            for m in messages
        ]
    }


def drain_queue(
    sqs: Any,
    queue_url: str,
    *,
    s3: Any,
    bucket: str,
    warehouse: StagingWarehouse,
    wait_seconds: int = 0,
    max_batches: int | None = None,
) -> LoadReport:
    """Delivers the queue's messages (the files of the landing `bucket`) to the loader batch by batch until the
    queue is empty."""
    report = LoadReport()
    batches = 0
    while max_batches is None or batches < max_batches:
        response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds)
        messages: list[dict[str, Any]] = response.get("Messages", [])
        if not messages:
            break
        batches += 1
        result = load_batch(sqs_event(messages), s3=s3, bucket=bucket, warehouse=warehouse)
        report.extend(result.report)
        failed = set(result.failed)
        done = [
            {"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]}
            for m in messages
            if m["MessageId"] not in failed
        ]
        if done:
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=done)
    return report


class BackgroundDrain:
    """Drains a queue on a thread beside the caller: each :meth:`kick` (messages may have arrived) makes the
    thread run `drain` once more (kicks during a drain make one drain after it); :meth:`close` runs a last drain,
    which sees everything sent before it was called, and waits for it. A drain that raises stops the thread: the
    error is raised by the next kick, or by close."""

    def __init__(self, drain: Callable[[], object], name: str = "queue-drain") -> None:
        self._drain = drain
        self._wanted = threading.Event()
        self._closing = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def kick(self) -> None:
        self._raise()
        self._wanted.set()

    def close(self) -> None:
        self._closing = True
        self._wanted.set()
        self._thread.join()
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"the background drain failed: {type(self._error).__name__}") from self._error

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            last = self._closing  # read before the drain: a close during it asks for one more
            try:
                self._drain()
            except BaseException as exc:  # kept for the caller's thread (kick, close)
                self._error = exc
                return
            if last:
                return


@dataclass
class Delivery:
    batches: int = 0
    messages: int = 0
    failed: list[str] = field(default_factory=list)  # message ids the handler reported (left on the queue)


def deliver(
    sqs: Any, queue_url: str, handler: Handler, *, function_name: str, batch_size: int = BATCH_SIZE
) -> Delivery:
    """One batch of what the queue holds now to `handler` (nothing when it is empty); deletes what succeeded.

    A handler that raises leaves the whole batch on the queue (as Lambda does) and the error propagates.
    """
    messages: list[dict[str, Any]] = []
    while len(messages) < batch_size:
        got = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=min(10, batch_size - len(messages)), WaitTimeSeconds=0
        ).get("Messages", [])
        if not got:
            break
        messages.extend(got)
    result = Delivery()
    if not messages:
        return result
    result.batches, result.messages = 1, len(messages)
    response = handler(sqs_event(messages), LocalContext(function_name, f"local:{function_name}"))
    result.failed = [f["itemIdentifier"] for f in response.get("batchItemFailures", [])]
    failed = set(result.failed)
    done = [
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
        for i, m in enumerate(messages)
        if m["MessageId"] not in failed
    ]
    for start in range(0, len(done), 10):
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=done[start : start + 10])
    return result
