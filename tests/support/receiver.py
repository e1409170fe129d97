"""A webhook receiver for tests: a tiny HTTP server on 127.0.0.1 in a thread."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Received:
    """One request the receiver got."""

    body: bytes
    headers: dict[str, str]


@dataclass
class Receiver:
    """Record every POST; answer with the scripted statuses in turn, then ``then``.

    ``answers`` holds (status, headers) pairs; ``hang`` makes every request wait
    until the receiver is closed, as a receiver that never answers would.
    """

    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    then: int = 200
    hang: bool = False
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._closed = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                data = self.rfile.read(length)
                with owner._lock:
                    owner.received.append(
                        Received(data, {k.lower(): v for k, v in self.headers.items()})
                    )
                    status, headers = owner.answers.pop(0) if owner.answers else (owner.then, {})
                if owner.hang:
                    owner._closed.wait(60)
                    return
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def count(self) -> int:
        """Return how many requests arrived."""
        with self._lock:
            return len(self.received)

    def close(self) -> None:
        """Release hanging requests and stop the server."""
        self._closed.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
