"""The one formatter of validation errors (which field, and what is wrong with it) and of quoted input.

Whatever comes from outside (events, files, calendar items) is quoted in a message or a log line through
:func:`bounded`: at most :data:`QUOTE_LIMIT` characters of it, with its full length, never the whole value.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

QUOTE_LIMIT = 120  # characters of an input value quoted in an error message or a log line
MESSAGE_LIMIT = 300  # characters of one validation message (pydantic's custom messages may quote input)
ERRORS_LISTED = 10  # validation errors a message lists (an event with 20,000 unknown keys has 20,000)


def bounded(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` cut to `limit` characters, naming the full length when cut: ``'xxx…' (5000000 chars)``."""
    text = value if isinstance(value, str) else repr(value)
    quoted = repr(text[:limit]) if isinstance(value, str) else text[:limit]
    if len(text) <= limit:
        return quoted
    return f"{quoted}… ({len(text)} chars)"


def shorten(text: str, limit: int = QUOTE_LIMIT) -> str:
    """A message (which may quote input) cut to `limit` characters, naming its full length when cut."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} chars)"


def describe_validation_error(exc: ValidationError, whole: str = "(payload)", prefix: str = "") -> str:
    """`loc.path: message; ...` for each error of `exc`; `whole` names an error of the whole value (empty loc).

    Each message is cut to :data:`MESSAGE_LIMIT` characters (and the location to :data:`QUOTE_LIMIT`), and at
    most :data:`ERRORS_LISTED` errors are listed, then how many more there are: an input key or a custom
    message quoting the input, or an input with very many wrong fields, never brings a large payload into it.
    """
    errors = exc.errors()
    parts = []
    for err in errors[:ERRORS_LISTED]:
        loc = ".".join(str(part) for part in err["loc"])[:QUOTE_LIMIT] or whole
        parts.append(f"{prefix}{loc}: {shorten(str(err['msg']), MESSAGE_LIMIT)}")
    if len(errors) > ERRORS_LISTED:
        parts.append(f"and {len(errors) - ERRORS_LISTED} more errors")
    return "; ".join(parts)
