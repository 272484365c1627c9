"""The transformer's requests: what arrives on its queue, and the rule that routes landed manifests there.

Three kinds of message reach the transformer queue (docs/CONTRACTS.md):

- an S3 "Object Created" event of a manifest (EventBridge, from the landing bucket): a run landed;
- `{"kind": "scheduled"}` from the safety schedule (EventBridge Scheduler);
- `{"kind": "manual", "full_refresh": false}` from the operations CLI (`grandprix cloud transform`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from f1common.layout import MANIFEST_PREFIX

# The transformer's memory between runs (the last build's staging state, the project fingerprint), in the
# landing bucket: no notification or pipe reads this prefix, and these objects are rewritten by every build.
TRANSFORMER_STATE_PREFIX = "transformer/"

# Messages per invocation of the transformer (its event source mapping; the embedded stack's trigger the same).
BATCH_SIZE = 100

S3_SOURCE = "aws.s3"
OBJECT_CREATED = "Object Created"


class TransformRequest(BaseModel):
    """A build asked for without a landed run: the safety schedule's, or an operator's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["scheduled", "manual"]
    full_refresh: bool = False


SCHEDULED = TransformRequest(kind="scheduled")


def manifest_landed_pattern(bucket: str) -> dict[str, Any]:
    """The EventBridge event pattern of a manifest written to the landing bucket (a run is complete in S3)."""
    return {
        "source": [S3_SOURCE],
        "detail-type": [OBJECT_CREATED],
        "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": MANIFEST_PREFIX}]}},
    }
