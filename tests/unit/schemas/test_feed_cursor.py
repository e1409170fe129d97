"""The decision feed's cursor: opaque tokens round-trip; anything else is a validation error."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError

from schemas.common import MAX_CURSOR, FeedCursor, feed_token


class Query(Schema):
    after = FeedCursor()


def load(value: Any) -> Any:
    return Query().load({"after": value})["after"]


@given(st.integers(0, MAX_CURSOR), st.integers(0, MAX_CURSOR))
def test_a_position_survives_its_token(txid: int, seq: int) -> None:
    token = feed_token((txid, seq))

    assert load(token) == (txid, seq)
    assert token.isascii()
    assert len(token) <= 64


@given(st.integers(0, MAX_CURSOR))
def test_the_whole_numbers_of_earlier_versions_still_read(number: int) -> None:
    assert load(str(number)) == number
    assert feed_token(number) == str(number)


@given(st.one_of(st.text(max_size=80), st.integers(), st.none(), st.lists(st.text())))
def test_any_other_value_is_a_validation_error_or_a_position(value: Any) -> None:
    outcome: Any
    try:
        outcome = load(value)
    except ValidationError as error:
        outcome = error.messages
    assert isinstance(outcome, int | tuple) or set(outcome) == {"after"}


@pytest.mark.parametrize("value", ["", "-1", str(MAX_CURSOR + 1), "ZjEuMQ", "ZjEuYS4y", "é"])
def test_broken_cursors_are_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="expected a cursor"):
        load(value)
