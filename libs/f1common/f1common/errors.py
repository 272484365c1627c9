"""The one formatter of validation errors: which field, and what is wrong with it."""

from __future__ import annotations

from pydantic import ValidationError


def describe_validation_error(exc: ValidationError, whole: str = "(payload)", prefix: str = "") -> str:
    """`loc.path: message; ...` for each error of `exc`; `whole` names an error of the whole value (empty loc)."""
    return "; ".join(
        f"{prefix}{'.'.join(str(part) for part in err['loc']) or whole}: {err['msg']}" for err in exc.errors()
    )
