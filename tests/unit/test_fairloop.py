"""FairAcceptLoop: a server takes one waiting connection per wake-up, leaving the rest to others."""

from __future__ import annotations

import asyncio
import importlib.util
import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from uvicorn.config import Config

from service.fairloop import FairAcceptLoop

ROOT = Path(__file__).resolve().parents[2]
WAITING = 5


@contextmanager
def waiting_connections(count: int) -> Iterator[socket.socket]:
    """Yield a listening socket with ``count`` connections completed by the kernel, none accepted."""
    with ExitStack() as stack:
        listener = stack.enter_context(socket.create_server(("127.0.0.1", 0), backlog=64))
        for _ in range(count):
            stack.enter_context(socket.create_connection(listener.getsockname()))
        yield listener


class Kept(asyncio.Protocol):
    """Keep every connection a server accepted, to close them at the end."""

    transports: list[asyncio.BaseTransport] = []  # noqa: RUF012 - shared by one test's servers

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transports.append(transport)


def left_after_one_wake_up(make_loop: Callable[[], asyncio.AbstractEventLoop]) -> int:
    """Serve a socket with ``WAITING`` connections for one loop iteration; count those left."""
    loop = make_loop()
    try:
        with waiting_connections(WAITING) as listener:
            listener.setblocking(False)
            # What asyncio.Server.start_serving calls once listen() is done, and nothing more.
            loop._start_serving(Kept, listener, backlog=64)  # type: ignore[attr-defined]
            # One iteration: the listening socket is ready, its reader runs once.
            loop.call_soon(loop.stop)
            loop.run_forever()
            loop.remove_reader(listener.fileno())
            left = 0
            try:
                while True:
                    listener.accept()[0].close()
                    left += 1
            except BlockingIOError:
                return left
    finally:
        # Let the accepted connections be made, then close them and the loop.
        loop.run_until_complete(asyncio.sleep(0.01))
        for transport in Kept.transports:
            transport.close()
        Kept.transports.clear()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()


def test_one_wake_up_takes_one_waiting_connection_and_leaves_the_rest() -> None:
    assert left_after_one_wake_up(FairAcceptLoop) == WAITING - 1


def test_asyncios_own_loop_takes_every_waiting_connection_at_once() -> None:
    # What the fair loop changes: with the stock loop the first worker awake takes them all.
    assert left_after_one_wake_up(asyncio.SelectorEventLoop) == 0


def test_the_workers_serve_on_the_fair_loop() -> None:
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "gunicorn.conf.py")
    assert spec is not None
    assert spec.loader is not None
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    kwargs = conf.EscalationWorker.CONFIG_KWARGS
    factory = Config(app="wsgi:app", **kwargs).get_loop_factory()
    assert factory is FairAcceptLoop
