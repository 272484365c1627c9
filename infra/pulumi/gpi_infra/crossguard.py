"""What the CrossGuard policy modules (`policies`, `grafana_policies`) share: a policy declared on its check,
mandatory, and the readers of resource properties as Pulumi passes them (camelCase, lists or single values)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

MANDATORY = EnforcementLevel.MANDATORY

StackCheck = Callable[[StackValidationArgs, ReportViolation], None]
ResourceCheck = Callable[[ResourceValidationArgs, ReportViolation], None]


def stack_policy(name: str, description: str) -> Callable[[StackCheck], StackValidationPolicy]:
    """The decorated check (of every resource of a stack at once) as a mandatory policy."""

    def declare(validate: StackCheck) -> StackValidationPolicy:
        return StackValidationPolicy(name=name, description=description, validate=validate, enforcement_level=MANDATORY)

    return declare


def resource_policy(name: str, description: str) -> Callable[[ResourceCheck], ResourceValidationPolicy]:
    """The decorated check (of one resource at a time) as a mandatory policy."""

    def declare(validate: ResourceCheck) -> ResourceValidationPolicy:
        return ResourceValidationPolicy(
            name=name, description=description, validate=validate, enforcement_level=MANDATORY
        )

    return declare


def of_type(resources: Iterable[PolicyResource], resource_type: str) -> Iterator[PolicyResource]:
    return (r for r in resources if r.resource_type == resource_type)


def as_list(value: Any) -> list[Any]:
    """A property that may be absent, one value or a list of them, as a list."""
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def display_name(props: Mapping[str, Any], name: str) -> str:
    """The resource's physical name if it has one, else its Pulumi name."""
    return str(props.get("name") or name)
