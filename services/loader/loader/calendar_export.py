"""The loader's export of the DynamoDB race calendar into `staging.race_calendar`, for the dashboards.

Grafana reads the warehouse only, so the loader exports the calendar's session items into this table
(:func:`f1common.warehouse.replace_race_calendar`); the pipeline-health dashboard finds the sessions that
are overdue or FAILED there. The loader's hourly ``health_handler`` runs it against Snowflake in the cloud;
the embedded stack locally.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from f1common.race_calendar import InvalidItem, RaceCalendar
from f1common.warehouse import Cursor, Dialect, replace_race_calendar


@dataclass
class CalendarExport:
    exported: int = 0
    skipped: int = 0  # items that are not sessions (idempotency records, ...)
    invalid: list[InvalidItem] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "exported": self.exported,
            "skipped": self.skipped,
            "invalid": [{"pk": i.pk, "error": i.error} for i in self.invalid],
        }


def export_calendar_from_dynamodb(dynamodb: Any, table: str, cursor: Cursor, dialect: Dialect) -> CalendarExport:
    """Scans the DynamoDB race calendar `table` and replaces `staging.race_calendar` with its session items.

    Items whose `pk` is not a session key (e.g. `idempotency#...`) are skipped; session items that do not
    parse are reported in the result (with the error naming the fields) and left out of the export.
    """
    scan = RaceCalendar(dynamodb, table).scan()
    exported = replace_race_calendar(cursor, scan.items, dialect)
    return CalendarExport(exported=exported, skipped=scan.skipped, invalid=scan.invalid)
