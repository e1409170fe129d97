"""Which requests the test client may repeat, and that it does repeat them."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import requests

from tests.support.http import Client, retryable


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "expected"),
    [
        ("GET", "/v1/cases/C-1", None, None, True),
        ("PUT", "/v1/agents/ag-1", None, {"limits": {}}, True),
        ("POST", "/v1/evaluate", None, {"event": {}}, True),
        ("POST", "/v1/rules/reload?x=1", None, None, True),
        ("POST", "/v1/cases/C-1/events", None, {"event_id": "e-1"}, True),
        ("POST", "/v1/cases/C-1/events", None, {"text": "no id"}, False),
        ("POST", "/v1/anything", {"Idempotency-Key": "k"}, None, True),
        ("POST", "/v1/anything", None, None, False),
        ("PATCH", "/v1/cases/C-1", None, None, False),
    ],
)
def test_only_requests_safe_to_repeat_are_retried(
    method: str, path: str, headers: dict[str, str] | None, body: object, expected: bool
) -> None:
    assert retryable(method, path, headers, body) is expected


@pytest.fixture
def flaky_server() -> Iterator[tuple[str, list[int]]]:
    """Serve HTTP on a loopback port: drop the first two connections, then answer 200."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    seen: list[int] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # closed by the fixture
            with conn:
                conn.recv(65536)
                seen.append(1)
                if len(seen) > 2:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", seen
    listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone does not
    listener.close()
    thread.join(timeout=60)


def test_a_retryable_request_is_repeated_after_dropped_connections(
    flaky_server: tuple[str, list[int]],
) -> None:
    url, seen = flaky_server
    client = Client(url)

    response = client.get("/v1/cases/C-1")

    assert response.text == "ok"
    assert len(seen) == 3
    assert len(client.retried) == 2


def test_a_request_unsafe_to_repeat_is_sent_once(flaky_server: tuple[str, list[int]]) -> None:
    url, seen = flaky_server
    client = Client(url)

    with pytest.raises(requests.ConnectionError):
        client.post("/v1/anything", json={})

    assert len(seen) == 1
    assert client.retried == []
