"""The f1RaceScheduler Lambda: calendar sync, recurring scheduling and backfill (:mod:`scheduler.actions`).

Events (validated at the edge; a bad one raises :class:`f1common.events.BadRequest` naming the field):
- `{"action": "schedule"}` (default; what the recurring EventBridge schedule sends)
- `{"action": "sync", "season": 2025}`, `{"action": "sync", "seasons": [2025, 2026]}`; no season: the current one;
  `"include_current": true`: the seasons named and the current one (the stack's daily sync and first deploy)
- `{"action": "schedule", "sync_seasons": [2025]}` syncs first (a failed sync is reported, not fatal)
- `{"action": "backfill", "from_season": 2023, "to_season": 2025, "sessions": ["R", "Q"]}`
Every event may carry `"now"` (ISO-8601) to run at a simulated instant (the local time machine).
"""

from __future__ import annotations

from typing import Any

from f1common.names import SERVICE_SCHEDULER
from f1common.observability import add_counts, event_summary, service_logger, service_metrics
from f1common.settings import Settings
from scheduler.actions import Clients, run_event

logger = service_logger(SERVICE_SCHEDULER)
metrics = service_metrics(SERVICE_SCHEDULER)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger.info("event received", extra={"event": event_summary(event)})  # bounded: never the whole payload
    settings = Settings()
    result = run_event(event, settings, Clients.from_settings(settings))
    add_counts(metrics, result["counts"])
    logger.info("scheduler run complete", extra={"action": result["action"], "counts": result["counts"]})
    return result
