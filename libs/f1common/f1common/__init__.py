"""Shared contracts of Grand Prix Insights.

The one home of session identities, dataset schemas, the S3 key layout, settings, event payloads
and client factories. Services depend on this package and never on each other.
"""

from f1common.datasets import DATASETS, Dataset, DatasetSpec, dataset_spec
from f1common.sessions import SessionId, SessionType

__all__ = ["DATASETS", "Dataset", "DatasetSpec", "SessionId", "SessionType", "dataset_spec"]
