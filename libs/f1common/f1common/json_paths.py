"""Paths into JSON documents (nested dicts and lists), written `/panels/0/title`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

# Whether one entry of a document is to be reported: its container (a dict or a list), its key or index, its value.
EntryMatch = Callable[[Any, Any, Any], bool]


def _as_is(value: Any) -> Any:
    return value


def matching_paths(
    value: Any, matches: EntryMatch, path: str = "", decode: Callable[[Any], Any] = _as_is
) -> Iterator[str]:
    """The paths, below `path` and in document order, of the entries of `value` for which `matches` holds;
    the value of a matching entry is not searched further. `decode` gives what is searched in each value
    (e.g. the document a JSON string holds)."""
    value = decode(value)
    entries: Iterable[tuple[Any, Any]]
    if isinstance(value, dict):
        entries = value.items()
    elif isinstance(value, list):
        entries = enumerate(value)
    else:
        return
    for key, item in entries:
        if matches(value, key, item):
            yield f"{path}/{key}"
        else:
            yield from matching_paths(item, matches, f"{path}/{key}", decode)
