"""Issue 13: the group's schedules are listed over every page of ListSchedules, in one place."""

from __future__ import annotations

from typing import Any

from scheduler.schedules import list_schedule_names, list_schedule_summaries


class PagedScheduler:
    """A scheduler client whose ListSchedules answers in pages of two, as the real one may."""

    def __init__(self, names: list[str]) -> None:
        self.summaries = [{"Name": n, "State": "ENABLED"} for n in names]
        self.calls: list[dict[str, Any]] = []

    def list_schedules(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        start = int(kwargs.get("NextToken", 0))
        page: dict[str, Any] = {"Schedules": self.summaries[start : start + 2]}
        if start + 2 < len(self.summaries):
            page["NextToken"] = str(start + 2)
        return page


def test_summaries_are_read_over_every_page() -> None:
    scheduler = PagedScheduler(["a", "b", "c", "d", "e"])
    assert list_schedule_summaries(scheduler, "g") == scheduler.summaries
    assert scheduler.calls == [
        {"GroupName": "g"},
        {"GroupName": "g", "NextToken": "2"},
        {"GroupName": "g", "NextToken": "4"},
    ]


def test_names_are_the_summaries_names() -> None:
    assert list_schedule_names(PagedScheduler(["a", "b", "c"]), "g") == ["a", "b", "c"]
    assert list_schedule_names(PagedScheduler([]), "g") == []
