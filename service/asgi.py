"""Serve the WSGI application over ASGI, reading each request body whole before a view runs.

Under gunicorn's thread workers a client that trickles its headers or its body
holds one of a worker's few threads for as long as it trickles; a few dozen
such clients stop the service. Here uvicorn parses HTTP on an event loop, so a
trickling client costs a coroutine, and ``BufferedBody`` reads the whole body
(bounded in size and in time) before the WSGI app gets a thread of the pool:
a view thread only ever runs for a request that has fully arrived.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, cast

from a2wsgi import WSGIMiddleware

from service.api.codes import ErrorCode
from service.api.errors import PROBLEM_JSON, PROBLEM_TYPE, PROBLEM_V1

Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
WSGIApp = Callable[..., Any]

# Headers that say how the body is framed: replaced by the length of the body read.
FRAMING = (b"content-length", b"transfer-encoding")


class BufferedBody:
    """Read the request body whole, at most ``max_bytes`` within ``timeout`` s, then call ``app``.

    A body over the limit is answered 413 and one not read in time 408, both
    problem+json, without calling ``app``. ``app`` sees the body as one
    message and a Content-Length header, whatever the client's framing
    (chunked included), so the WSGI app's own per-route limits still apply.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, timeout: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass anything but an HTTP request with a body straight on; buffer the rest."""
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._too_large(scope, send)
            return
        try:
            async with asyncio.timeout(self.timeout):
                body = await self._read(receive)
        except TimeoutError:
            await _problem(
                scope,
                send,
                408,
                ErrorCode.REQUEST_TIMEOUT,
                "Request timeout",
                f"the request body did not arrive within {self.timeout:g} seconds",
            )
            return
        if body is None:  # the client went away: nobody to answer
            return
        if len(body) > self.max_bytes:
            await self._too_large(scope, send)
            return
        await self.app(_framed(scope, len(body)), _replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes | None:
        """Return the body, None if the client disconnected; stop early past the limit."""
        chunks = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunks += message.get("body", b"")
            if len(chunks) > self.max_bytes or not message.get("more_body", False):
                return bytes(chunks)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        await _problem(
            scope,
            send,
            413,
            ErrorCode.PAYLOAD_TOO_LARGE,
            "Payload too large",
            f"the request body is larger than the limit of {self.max_bytes} bytes",
        )


def asgi_app(wsgi_app: WSGIApp, config: Mapping[str, Any], *, threads: int) -> ASGIApp:
    """Wrap a WSGI app: bodies read whole first, then views run on a pool of ``threads``.

    The buffer is bounded by the largest body any route takes (a rule bundle);
    the app refuses what is over a route's own limit once the body is read.
    """
    limit = max(config["MAX_CONTENT_LENGTH"], config["BUNDLE_MAX_BYTES"])
    wsgi = cast(ASGIApp, WSGIMiddleware(wsgi_app, workers=threads))
    return BufferedBody(wsgi, max_bytes=limit, timeout=config["BODY_TIMEOUT_SECONDS"])


def _has_body(scope: Scope) -> bool:
    return any(name in FRAMING for name, _ in scope.get("headers", ()))


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:  # the HTTP parser refuses these before us; be safe anyway
                return None
    return None


def _framed(scope: Scope, length: int) -> Scope:
    headers = [(n, v) for n, v in scope.get("headers", ()) if n not in FRAMING]
    headers.append((b"content-length", str(length).encode("ascii")))
    return {**scope, "headers": headers}


def _replay(body: bytes, receive: Receive) -> Receive:
    """Return a receive that gives ``body`` once, then waits on the client as before."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _problem(
    scope: Scope, send: Send, status: int, code: ErrorCode, title: str, detail: str
) -> None:
    """Answer problem+json and close: the rest of the body is never read."""
    document = PROBLEM_V1.dump(
        {
            "type": PROBLEM_TYPE + code,
            "title": title,
            "status": status,
            "detail": detail,
            "instance": scope.get("path", ""),
            "code": code,
            "errors": [],
        }
    )
    payload = json.dumps(document, ensure_ascii=False).encode("utf-8", "backslashreplace")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode("ascii")),
                (b"content-length", str(len(payload)).encode("ascii")),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload, "more_body": False})
