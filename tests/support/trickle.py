"""Clients that trickle a request at a server, one byte at a time, and probes timed meanwhile.

    with Tricklers(server.port, headers=64, bodies=64) as tricklers:
        tricklers.wait_started()
        ... probe the server ...
        tricklers.settle()
        assert tricklers.closed_by_server == 0

Header tricklers send a request line and then header bytes forever; body
tricklers send whole headers announcing a large body and then its bytes. One
thread writes one byte to every connection each ``interval`` seconds; a
connection the server closes is counted and opened again, so the pressure
stays on for as long as the block lasts.
"""

from __future__ import annotations

import contextlib
import socket
import statistics
import threading
import time
from types import TracebackType

HEADER_START = b"GET /healthz HTTP/1.1\r\nHost: slow\r\nX-Slow: "
BODY_LENGTH = 1_000_000


def body_start(index: int) -> bytes:
    """Return the head of an events POST whose body then trickles."""
    return (
        f"POST /v1/cases/slow-{index}/events HTTP/1.1\r\nHost: slow\r\n"
        f"Content-Type: application/json\r\nContent-Length: {BODY_LENGTH}\r\n\r\n"
        '{"padding": "'
    ).encode("ascii")


class _Connection:
    def __init__(self, port: int, start: bytes) -> None:
        self.port, self.start = port, start
        self.sock: socket.socket | None = None
        self.sent = 0

    def open(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        sock.setblocking(False)
        self.sock = sock
        self.sent = 0

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
            self.sock = None

    def step(self) -> bool:
        """Send the next byte; return False if the server closed the connection."""
        assert self.sock is not None
        byte = self.start[self.sent : self.sent + 1] or b"a"
        try:
            # Anything the server says before we finish (an answer, or the end of the
            # stream when it closed the connection) means it gave up on us.
            self.sock.recv(1, socket.MSG_PEEK)
            return False
        except BlockingIOError:  # nothing to read: the connection is open and waiting
            pass
        except OSError:
            return False
        try:
            self.sock.send(byte)
        except OSError:
            return False
        self.sent += 1
        return True


class Tricklers:
    """``headers`` + ``bodies`` connections each sending one byte every ``interval`` seconds."""

    def __init__(self, port: int, headers: int, bodies: int, interval: float = 0.5) -> None:
        """Prepare (not open) the connections."""
        self.interval = interval
        self.connections = [_Connection(port, HEADER_START) for _ in range(headers)] + [
            _Connection(port, body_start(i)) for i in range(bodies)
        ]
        self.closed_by_server = 0
        self.rounds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tricklers", daemon=True)

    def __enter__(self) -> Tricklers:
        """Open every connection and start trickling."""
        for connection in self.connections:
            connection.open()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop trickling and close every connection."""
        self._stop.set()
        self._thread.join(timeout=30)
        for connection in self.connections:
            connection.close()

    def wait_started(self, rounds: int = 4) -> None:
        """Wait until every connection has sent ``rounds`` bytes (so each is mid-request)."""
        while self.rounds < rounds and self._thread.is_alive():
            time.sleep(self.interval / 2)

    def settle(self, rounds: int = 2) -> None:
        """Wait ``rounds`` more rounds, so connections the server just closed are counted."""
        target = self.rounds + rounds
        while self.rounds < target and self._thread.is_alive():
            time.sleep(self.interval / 2)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for connection in self.connections:
                if not connection.step():
                    self.closed_by_server += 1
                    connection.close()
                    with contextlib.suppress(OSError):
                        connection.open()
            self.rounds += 1


def summary(latencies: list[float]) -> str:
    """Return 'n=.. p50=.. p99=.. max=..' in milliseconds."""
    if not latencies:
        return "n=0"
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return (
        f"n={len(ordered)} p50={statistics.median(ordered) * 1000:.0f}ms "
        f"p99={p99 * 1000:.0f}ms max={ordered[-1] * 1000:.0f}ms"
    )
