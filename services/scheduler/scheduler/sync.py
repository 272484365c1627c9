"""Calendar sync: the official schedule of a season into the race calendar, idempotently."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from f1common.datasets import ScheduleRow
from f1common.errors import MESSAGE_LIMIT, shorten
from f1common.events import CalendarItem, CalendarStatus
from f1common.names import SERVICE_SCHEDULER
from f1common.observability import child_logger
from f1common.race_calendar import SCHEDULE_FIELDS, ConditionFailed, RaceCalendar, item_from_row
from scheduler.schedules import ScheduleTarget, create_schedule_landing, delete_schedule, schedule_landing_name

logger = child_logger(SERVICE_SCHEDULER)
MAX_CONFLICTS = 3

# Statuses whose pending work is reset when the session moves: it is scheduled again at the new time.
_RESET_ON_MOVE = (CalendarStatus.SCHEDULED, CalendarStatus.NOT_AVAILABLE, CalendarStatus.FAILED)


@dataclass
class SyncReport:
    season: int
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "<key>: <reason>" for rows that cannot be calendar items
    invalid: list[str] = field(default_factory=list)  # existing items that cannot be read
    conflicts: list[str] = field(default_factory=list)  # "<key>: <reason>": rows that disagree, item left alone
    schedule_landing: str | None = None  # the one-time schedule that lands the season's schedule dataset

    def summary(self) -> dict[str, Any]:
        return {
            "season": self.season,
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "cancelled": len(self.cancelled),
            "restored": len(self.restored),
            "skipped": self.skipped,
            "invalid": self.invalid,
            "conflicts": self.conflicts,
            "schedule_landing": self.schedule_landing,
        }


def sync_and_land(
    season: int,
    rows: Sequence[ScheduleRow],
    table: RaceCalendar,
    scheduler: Any,
    target: ScheduleTarget,
    now: dt.datetime,
) -> SyncReport:
    """:func:`sync_season`, then a request to the ingestion service to land the season's schedule dataset
    (what the dashboards name events by): every sync keeps the landed schedule current, in the cloud as in
    the embedded stack. The ingestion service lands it only when it changed."""
    report = sync_season(season, rows, table, scheduler, target.group, now)
    create_schedule_landing(scheduler, target, season, now)  # False: this minute's request exists already
    report.schedule_landing = schedule_landing_name(season, now)
    return report


def sync_season(
    season: int,
    rows: Sequence[ScheduleRow],
    table: RaceCalendar,
    scheduler: Any,
    group: str,
    now: dt.datetime,
) -> SyncReport:
    """Creates, updates or cancels the season's calendar items so they match `rows`.

    Re-running with the same rows changes nothing. A session whose start moved gets its new times,
    and unless already ingested its pending schedule is deleted so it is scheduled again. A session
    missing from `rows` is marked CANCELLED (never deleted); ingested sessions are left alone.

    Each row on its own: a row that cannot be a calendar item (no start, a start without a time zone, a bad
    field) or whose write fails is reported in `skipped` with the reason; rows of one session that disagree
    are reported in `conflicts` and the session's item is left as it is. The other rows proceed.
    """
    report = SyncReport(season=season)
    wrong_season = sorted({r.season for r in rows} - {season})
    if wrong_season:
        raise ValueError(f"schedule rows for season {season} include other seasons: {wrong_season}")
    scan = table.scan(season=season)
    existing = scan.by_key()
    report.invalid.extend(f"{bad.pk}: {bad.error}" for bad in scan.invalid)
    by_key: dict[str, list[ScheduleRow]] = {}
    for row in rows:
        by_key.setdefault(f"{row.season:04d}-{row.round:02d}-{row.session[:8]}", []).append(row)
    seen = set(by_key)  # listed, even if unusable: a session missing its start is not cancelled
    for key, same in by_key.items():
        distinct = {r.model_dump_json() for r in same}
        if len(distinct) > 1:
            reason = f"{key}: {len(same)} schedule rows disagree ({_differences(same)}); item left unchanged"
            report.conflicts.append(reason)
            logger.warning("conflicting schedule rows", extra={"session": key, "reason": reason})
            continue
        try:
            wanted = item_from_row(same[0], now)
            _sync_one(wanted, existing.get(wanted.pk), table, scheduler, group, now, report)
        except Exception as exc:
            reason = str(exc) if isinstance(exc, ValueError) else f"{key}: {type(exc).__name__}: {exc}"
            report.skipped.append(shorten(reason, MESSAGE_LIMIT))
            logger.warning("schedule row skipped", extra={"session": key, "reason": shorten(reason, MESSAGE_LIMIT)})
    for pk, item in existing.items():
        if pk in seen or item.status in (CalendarStatus.CANCELLED, CalendarStatus.INGESTED):
            continue
        try:
            _cancel(item, table, scheduler, group, now, report)
        except Exception as exc:  # as a row's: reported, and the rest of the season syncs
            reason = shorten(f"{pk}: {type(exc).__name__}: {exc}", MESSAGE_LIMIT)
            report.skipped.append(reason)
            logger.warning("calendar item not cancelled", extra={"session": pk, "reason": reason})
    return report


def _sync_one(
    wanted: CalendarItem,
    current: CalendarItem | None,
    table: RaceCalendar,
    scheduler: Any,
    group: str,
    now: dt.datetime,
    report: SyncReport,
) -> None:
    for _ in range(MAX_CONFLICTS):
        if current is None:
            try:
                table.put_new(wanted)
                report.created.append(wanted.pk)
                return
            except ConditionFailed:
                current = table.get(wanted.pk)
                continue
        changes = {f: getattr(wanted, f) for f in SCHEDULE_FIELDS if getattr(wanted, f) != getattr(current, f)}
        moved = "start_utc" in changes or "end_utc" in changes
        values: dict[str, Any] = dict(changes)
        if current.status is CalendarStatus.CANCELLED:
            values["status"] = CalendarStatus.PENDING
        elif moved and current.status in _RESET_ON_MOVE:
            values.update(status=CalendarStatus.PENDING, next_attempt_utc=None, schedule_name=None)
        if not values:
            report.unchanged.append(wanted.pk)
            return
        values["updated_at"] = now
        if values.get("status") is CalendarStatus.PENDING and current.schedule_name:
            # the schedule goes before the write that forgets it: a sync that dies in between leaves an item
            # naming a schedule that is gone (re-driven once overdue; the next sync writes it again), never a
            # schedule no item names, which would fire for the old time
            delete_schedule(scheduler, group, current.schedule_name)
        try:
            table.update(wanted.pk, values, expect={"version": current.version})
        except ConditionFailed:
            current = table.get(wanted.pk)
            continue
        if current.status is CalendarStatus.CANCELLED:
            report.restored.append(wanted.pk)
        else:
            report.updated.append(wanted.pk)
        logger.info("calendar item updated", extra={"session": wanted.pk, "changes": sorted(changes)})
        return
    raise RuntimeError(f"calendar item {wanted.pk} kept changing under concurrent writers; left for the next sync")


def _differences(rows: Sequence[ScheduleRow]) -> str:
    """The fields on which rows of one session disagree, e.g. `session_start_utc`."""
    dumps = [r.model_dump() for r in rows]
    return ", ".join(sorted(f for f in dumps[0] if len({repr(d[f]) for d in dumps}) > 1))


def _cancel(
    item: CalendarItem, table: RaceCalendar, scheduler: Any, group: str, now: dt.datetime, report: SyncReport
) -> None:
    if item.status is CalendarStatus.SCHEDULED and item.schedule_name:  # first, as in _sync_one
        delete_schedule(scheduler, group, item.schedule_name)
    try:
        table.update(
            item.pk,
            {
                "status": CalendarStatus.CANCELLED,
                "next_attempt_utc": None,
                "updated_at": now,
                "message": "not in the official schedule any more",
            },
            expect={"version": item.version},
        )
    except ConditionFailed:
        logger.warning("calendar item changed while cancelling; left for the next sync", extra={"session": item.pk})
        return
    report.cancelled.append(item.pk)
    logger.info("session cancelled", extra={"session": item.pk})
