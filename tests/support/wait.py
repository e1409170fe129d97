"""Poll a condition until it holds or a generous deadline passes: the only way tests wait."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# Long enough for a busy two-core machine; a healthy run never waits that long.
DEFAULT_TIMEOUT = 60.0


class WaitTimeout(AssertionError):
    """The condition did not hold before the deadline."""


def wait_until(
    predicate: Callable[[], T],
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = 0.1,
    message: str | Callable[[], str] = "the condition did not hold",
) -> T:
    """Call ``predicate`` until it returns a truthy value, and return that value.

    Raise WaitTimeout, with ``message`` (or what it returns, evaluated only
    then), when ``timeout`` seconds pass first.  Exceptions of the predicate
    propagate: a broken check must fail, not be waited on.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise WaitTimeout(f"{text} (waited {timeout:g} s)")
        time.sleep(interval)
