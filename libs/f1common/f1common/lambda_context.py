"""The Lambda context of an in-process invocation (the embedded stack's dispatcher, and tests).

The attributes handlers and Powertools' Logger (``inject_lambda_context``) read from a real context.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LocalContext:
    """What handlers (and Powertools' Logger) read from a Lambda context; a fresh request id per instance."""

    function_name: str
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 1024
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000
