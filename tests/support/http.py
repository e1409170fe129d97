"""Requests to a real server that survive a busy machine: generous timeouts, retries on any error.

Every request a test makes to a server it started goes through ``call`` (or a
``Client``).  A request is retried on any ``requests`` exception -- refused
connections, resets, timeouts -- when repeating it cannot change the outcome:
idempotent methods, requests with an ``Idempotency-Key`` header, the service's
stateless POSTs, and case events (their ``event_id`` is the idempotency key).
Anything else is sent once; pass ``retry=True`` or ``retry=False`` to decide.
Status codes are never retried: they are what tests assert on.
"""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any

import requests

# (connect, read) seconds per attempt: a loaded worker may take long to answer.
TIMEOUT = (10.0, 60.0)
# Total seconds spent retrying one request before its last error is raised.
DEADLINE = 180.0

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# POSTs whose repetition changes nothing: decisions without memory, rule checks and reloads.
STATELESS_POSTS = frozenset({"/v1/evaluate", "/v1/rules/validate", "/v1/rules/reload"})
CASE_EVENTS = re.compile(r"/v1/cases/[^/]+/events$")


def retryable(method: str, path: str, headers: dict[str, str] | None, body: Any) -> bool:
    """Return whether sending the request twice has the same effect as sending it once."""
    if method.upper() in IDEMPOTENT_METHODS:
        return True
    if any(name.lower() == "idempotency-key" for name in headers or {}):
        return True
    path = path.split("?", 1)[0]
    if method.upper() == "POST" and path in STATELESS_POSTS:
        return True
    return bool(
        method.upper() == "POST"
        and CASE_EVENTS.search(path)
        and isinstance(body, dict)
        and body.get("event_id")
    )


def _body(kwargs: dict[str, Any]) -> Any:
    """Return the JSON body of a request, given as ``json=`` or as a JSON ``data=`` string."""
    if kwargs.get("json") is not None:
        return kwargs["json"]
    data = kwargs.get("data")
    if isinstance(data, str | bytes):
        try:
            return json.loads(data)
        except ValueError:
            return None
    return None


class Client:
    """A base URL, with ``call`` bound to it; safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        timeout: float | tuple[float, float] = TIMEOUT,
        deadline: float = DEADLINE,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # Sent with every request unless the request names the header itself (the API key).
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.deadline = deadline
        self._lock = threading.Lock()
        self.retried: list[str] = []  # one line per retry, for tests that must account for them

    def request(
        self,
        method: str,
        path: str,
        *,
        retry: bool | None = None,
        timeout: float | tuple[float, float] | None = None,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request, retrying on any error while that is safe, and return the response."""
        if self.headers:
            kwargs["headers"] = {**self.headers, **(kwargs.get("headers") or {})}
        if retry is None:
            retry = retryable(method, path, kwargs.get("headers"), _body(kwargs))
        return _send(
            method,
            self.base_url + path,
            retry=retry,
            timeout=self.timeout if timeout is None else timeout,
            deadline=self.deadline if deadline is None else deadline,
            on_retry=self._record,
            **kwargs,
        )

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """Send a GET request."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        """Send a POST request."""
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        """Send a PUT request."""
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        """Send a DELETE request."""
        return self.request("DELETE", path, **kwargs)

    def _record(self, line: str) -> None:
        with self._lock:
            self.retried.append(line)


def call(
    method: str,
    url: str,
    *,
    retry: bool | None = None,
    timeout: float | tuple[float, float] = TIMEOUT,
    deadline: float = DEADLINE,
    **kwargs: Any,
) -> requests.Response:
    """Send one request to an absolute URL, retrying on any error while that is safe."""
    if retry is None:
        path = re.sub(r"^https?://[^/]+", "", url)
        retry = retryable(method, path, kwargs.get("headers"), _body(kwargs))
    return _send(method, url, retry=retry, timeout=timeout, deadline=deadline, **kwargs)


def _send(
    method: str,
    url: str,
    *,
    retry: bool,
    timeout: float | tuple[float, float],
    deadline: float,
    on_retry: Any = None,
    **kwargs: Any,
) -> requests.Response:
    give_up = time.monotonic() + deadline
    pause = 0.1
    while True:
        try:
            # A fresh session per request: Sessions are not thread-safe, and a
            # pooled connection to a killed worker would fail the next attempt.
            return requests.request(method, url, timeout=timeout, **kwargs)
        except requests.RequestException as exc:
            if not retry or time.monotonic() + pause >= give_up:
                raise
            if on_retry is not None:
                on_retry(f"{method} {url}: {type(exc).__name__}")
        time.sleep(pause)
        pause = min(pause * 2, 2.0)
