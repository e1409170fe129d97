"""wait_until: returns the first truthy value, or fails with the message after the deadline."""

from __future__ import annotations

import pytest

from tests.support.wait import WaitTimeout, wait_until


def test_it_returns_the_first_truthy_value() -> None:
    calls = iter([0, [], "", [3]])

    assert wait_until(lambda: next(calls), timeout=60, interval=0) == [3]


def test_it_fails_with_the_message_once_the_deadline_passes() -> None:
    with pytest.raises(WaitTimeout, match="still nothing"):
        wait_until(lambda: False, timeout=0, message=lambda: "still nothing")


def test_an_error_of_the_predicate_is_not_waited_on() -> None:
    def broken() -> bool:
        raise KeyError("x")

    with pytest.raises(KeyError):
        wait_until(broken, timeout=60)
