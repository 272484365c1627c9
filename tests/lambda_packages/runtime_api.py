"""A local Lambda Runtime API (2018-06-01) for one function container: what the runtime interface client polls.

The Lambda service hands each invocation to the runtime through this HTTP API; AWS's Runtime Interface
Emulator is a GitHub download, so this is the small part of it the tests need: `invocation/next` (long poll),
`invocation/<id>/response`, `invocation/<id>/error` and `init/error`, on 127.0.0.1.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"
HOST = "127.0.0.1"


@dataclass
class Invocation:
    request_id: str
    event: bytes
    deadline_ms: int
    done: threading.Event = field(default_factory=threading.Event)
    response: Any = None
    error: dict[str, Any] | None = None
    error_type: str | None = None


class InvocationFailed(AssertionError):
    """The function returned an error (or failed to initialise); the message holds Lambda's error document."""


class RuntimeApi:
    """Serves invocations to one container; `invoke` blocks until the function responds, like a sync Invoke."""

    def __init__(self, function_arn: str, timeout_seconds: int) -> None:
        self.function_arn = function_arn
        self.timeout_seconds = timeout_seconds
        self._pending: queue.Queue[Invocation] = queue.Queue()
        self._active: dict[str, Invocation] = {}
        self.init_error: dict[str, Any] | None = None
        self._init_failed = threading.Event()
        self._server = ThreadingHTTPServer((HOST, 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="lambda-runtime-api", daemon=True)

    @property
    def address(self) -> str:
        """`AWS_LAMBDA_RUNTIME_API` for the container (host networking)."""
        return f"{HOST}:{self._server.server_port}"

    def __enter__(self) -> RuntimeApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def invoke(self, event: Any, *, wait_seconds: float | None = None) -> Any:
        """Sends `event` (JSON-able) and returns the function's JSON result; raises InvocationFailed on error."""
        wait = wait_seconds if wait_seconds is not None else self.timeout_seconds + 60
        invocation = Invocation(
            request_id=str(uuid.uuid4()),
            event=json.dumps(event).encode(),
            deadline_ms=int((time.time() + self.timeout_seconds) * 1000),
        )
        self._active[invocation.request_id] = invocation
        self._pending.put(invocation)
        deadline = time.monotonic() + wait
        while not invocation.done.wait(0.2):
            if self._init_failed.is_set():
                raise InvocationFailed(f"function failed to initialise: {self.init_error}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no response from the function within {wait:.0f} s")
        if invocation.error is not None:
            raise InvocationFailed(f"{invocation.error_type}: {json.dumps(invocation.error)[:4000]}")
        return invocation.response

    def _next(self) -> Invocation:
        return self._pending.get()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # (BaseHTTPRequestHandler's name)
                pass

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path != f"{PREFIX}/invocation/next":
                    self._reply(404)
                    return
                invocation = api._next()
                self._reply(
                    200,
                    invocation.event,
                    {
                        "Content-Type": "application/json",
                        "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                        "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                        "Lambda-Runtime-Invoked-Function-Arn": api.function_arn,
                        "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}",
                    },
                )

            def do_POST(self) -> None:
                body = self._body()
                if self.path == f"{PREFIX}/init/error":
                    api.init_error = json.loads(body or b"{}")
                    api._init_failed.set()
                    self._reply(202)
                    return
                parts = self.path.removeprefix(f"{PREFIX}/invocation/").split("/")
                invocation = api._active.get(parts[0]) if len(parts) == 2 else None
                if invocation is None or parts[1] not in ("response", "error"):
                    self._reply(404)
                    return
                if parts[1] == "response":
                    invocation.response = json.loads(body) if body else None
                else:
                    invocation.error = json.loads(body or b"{}")
                    invocation.error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
                invocation.done.set()
                self._reply(202)

        return Handler
