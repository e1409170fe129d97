"""BufferedBody: a view only runs for a body that has fully arrived, bounded in size and time."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any

from service.asgi import BufferedBody, Message, Receive, Scope, Send


class Recorder:
    """The inner app: records the scope and the body it was given, answers 200."""

    def __init__(self) -> None:
        self.calls: list[tuple[Scope, bytes]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.calls.append((scope, body))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def scope(*headers: tuple[bytes, bytes], path: str = "/v1/cases/c/events") -> Scope:
    return {"type": "http", "method": "POST", "path": path, "headers": list(headers)}


def client(chunks: Iterable[bytes], delay: float = 0.0, disconnect: bool = False) -> Receive:
    """Return a receive giving ``chunks`` as body messages, ``delay`` seconds apart."""
    pending = list(chunks)

    async def receive() -> Message:
        await asyncio.sleep(delay)
        if disconnect and not pending:
            return {"type": "http.disconnect"}
        if not pending:
            await asyncio.sleep(3600)  # a client that sent everything waits for the answer
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending) or disconnect}

    return receive


def run(
    request: Scope, receive: Receive, max_bytes: int = 100, timeout: float = 5
) -> tuple[list[Message], Recorder]:
    """Send one request through BufferedBody; return what it sent back and the inner app."""
    inner = Recorder()
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(BufferedBody(inner, max_bytes=max_bytes, timeout=timeout)(request, receive, send))
    return sent, inner


def problem(sent: list[Message]) -> tuple[int, dict[str, str], dict[str, Any]]:
    start, body = sent
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, json.loads(body["body"])


def test_a_chunked_body_reaches_the_app_whole_with_a_content_length() -> None:
    sent, inner = run(
        scope((b"transfer-encoding", b"chunked"), (b"x-a", b"1")), client([b"ab", b"cd"])
    )

    [(seen, body)] = inner.calls
    assert body == b"abcd"
    assert seen["headers"] == [(b"x-a", b"1"), (b"content-length", b"4")]
    assert sent[0]["status"] == 200


def test_a_request_without_a_body_passes_straight_through() -> None:
    request = scope(path="/healthz")

    _, inner = run(request, client([b""]))

    [(seen, body)] = inner.calls
    assert seen is request
    assert body == b""


def test_a_declared_length_over_the_limit_is_413_without_reading_or_calling_the_app() -> None:
    async def never() -> Message:
        raise AssertionError("the body was read")

    sent, inner = run(scope((b"content-length", b"101")), never)

    status, headers, document = problem(sent)
    assert inner.calls == []
    assert status == 413
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    assert document["code"] == "payload_too_large"
    assert document["instance"] == "/v1/cases/c/events"
    assert "100 bytes" in document["detail"]


def test_a_chunked_body_over_the_limit_is_413_as_soon_as_it_passes_it() -> None:
    chunks = [b"x" * 60] * 3 + [b"never read"] * 1000

    sent, inner = run(scope((b"transfer-encoding", b"chunked")), client(chunks))

    assert inner.calls == []
    assert problem(sent)[0] == 413


def test_a_body_not_in_by_the_timeout_is_408_and_the_app_never_runs() -> None:
    sent, inner = run(
        scope((b"content-length", b"50")), client([b"x"] * 50, delay=0.05), timeout=0.3
    )

    status, headers, document = problem(sent)
    assert inner.calls == []
    assert (status, document["code"], document["status"]) == (408, "request_timeout", 408)
    assert headers["connection"] == "close"


def test_a_client_that_goes_away_mid_body_gets_nothing_and_the_app_never_runs() -> None:
    sent, inner = run(scope((b"content-length", b"50")), client([b"x"], disconnect=True))

    assert sent == []
    assert inner.calls == []
