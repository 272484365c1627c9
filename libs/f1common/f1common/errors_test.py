"""Validation errors and quoted input are described in bounded form, however large or wrong the input."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from f1common.errors import ERRORS_LISTED, MESSAGE_LIMIT, QUOTE_LIMIT, bounded, describe_validation_error


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    season: int


def error_of(payload: object) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        Strict.model_validate(payload)
    return caught.value


def test_each_error_names_its_field_and_what_is_wrong() -> None:
    described = describe_validation_error(error_of({"season": "x", "round": 1}), prefix="event.")
    assert described.startswith("event.season: Input should be a valid integer")
    assert "; event.round: Extra inputs are not permitted" in described


def test_a_huge_key_is_cut_to_the_quote_limit() -> None:
    described = describe_validation_error(error_of({"season": 1, "k" * 100_000: 1}))
    assert described == f"{'k' * QUOTE_LIMIT}: Extra inputs are not permitted"


def test_very_many_wrong_fields_list_the_first_and_count_the_rest() -> None:
    payload: dict[str, object] = {"season": 2025, **{f"extra_{i}": i for i in range(20_000)}}
    described = describe_validation_error(error_of(payload))
    assert described.count("Extra inputs are not permitted") == ERRORS_LISTED
    assert described.endswith(f"; and {20_000 - ERRORS_LISTED} more errors")
    assert len(described) < ERRORS_LISTED * (QUOTE_LIMIT + MESSAGE_LIMIT + 4) + 40


def test_the_whole_value_is_named_when_the_error_has_no_field() -> None:
    assert describe_validation_error(error_of([1, 2]), whole="(event)").startswith("(event): Input should be")


def test_bounded_quotes_the_start_and_the_full_length() -> None:
    assert bounded("x" * 5) == "'xxxxx'"
    assert bounded("x" * 500, 3) == "'xxx'… (500 chars)"
    assert bounded(list(range(1000)), 5) == "[0, 1… (4890 chars)"
