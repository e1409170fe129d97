"""An asyncio event loop for workers sharing one listening socket: one new connection per wake-up.

asyncio accepts up to ``backlog`` waiting connections each time a listening
socket turns readable.  Every gunicorn worker polls the same socket, so the
first worker to wake takes a whole burst of new connections (a ticketing
system's keep-alive pool, opened at once) and the others take none: one
process then serves every request on one core while the rest of the machine
idles, for as long as those connections live.  Taking one connection per
wake-up leaves the rest of the burst to the other workers, woken by the same
readiness; a busy worker comes back to the socket later, so the idle ones
take more.  The kernel's listen queue keeps its full length (``listen`` is
called with the configured backlog, as before).  A worker that does not get
the CPU while a burst arrives still misses it (docs/deployment.md).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

ACCEPTS_PER_WAKE = 1


class FairAcceptLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose servers accept one waiting connection per wake-up."""

    def _start_serving(
        self,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        sock: socket.socket,
        sslcontext: Any = None,
        server: Any = None,
        backlog: int = 100,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        # ``backlog`` here bounds accepts per readiness only: asyncio.Server has
        # already called listen() with the configured queue length.
        super()._start_serving(  # type: ignore[misc]
            protocol_factory, sock, sslcontext, server, ACCEPTS_PER_WAKE, *args, **kwargs
        )
