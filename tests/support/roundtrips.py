"""A TCP proxy in front of PostgreSQL that counts network round trips, not statements.

A round trip is a burst of bytes from the client that follows bytes from the
server (or opens the connection): statements pipelined together and sent
before any answer count once; a statement that waits for the answer of the
previous one counts again.  The proxy forwards everything unchanged.

    with RoundTripProxy() as proxy:
        engine = create_engine(proxy.route(url))
        before = proxy.trips
        ...
        spent = proxy.trips - before
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

UPSTREAM = ("127.0.0.1", 5432)


class RoundTripProxy:
    """Forward TCP connections to the database server and count the client's round trips."""

    def __init__(self, upstream: tuple[str, int] = UPSTREAM) -> None:
        self.upstream = upstream
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._trips = 0
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []

    @property
    def trips(self) -> int:
        """Return the round trips counted so far, over every connection."""
        with self._lock:
            return self._trips

    def route(self, url: str) -> str:
        """Return ``url`` with the upstream address replaced by the proxy's."""
        host, port = self.upstream
        address = f"{host}:{port}"
        assert address in url, url
        return url.replace(address, f"127.0.0.1:{self.port}")

    def __enter__(self) -> RoundTripProxy:
        threading.Thread(target=self._accept, daemon=True, name="round-trip-proxy").start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._closed.set()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._sockets += [client, server]
            # True when the server spoke last: the client's next bytes open a round trip.
            answered = [True]
            threading.Thread(
                target=self._pump, args=(client, server, answered, True), daemon=True
            ).start()
            threading.Thread(
                target=self._pump, args=(server, client, answered, False), daemon=True
            ).start()

    def _pump(
        self, source: socket.socket, sink: socket.socket, answered: list[bool], from_client: bool
    ) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                for sock in (source, sink):
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                return
            # Marked before forwarding: the other side cannot answer bytes it has not got.
            with self._lock:
                if from_client and answered[0]:
                    self._trips += 1

                answered[0] = not from_client
            try:
                sink.sendall(data)
            except OSError:
                return
