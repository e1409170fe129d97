"""gunicorn settings for `make serve`; each can be overridden by the environment.

Workers are uvicorn's (``EscalationWorker`` below): HTTP is parsed on an event
loop and each request body is read whole before a view gets a thread, so
clients that trickle headers or bodies cannot hold the threads that answer
everyone else (docs/deployment.md). ESCALATION_WORKER_CLASS=gthread brings back
gunicorn's thread workers (slow clients then need a buffering proxy in front).
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import h11
from gunicorn.arbiter import Arbiter
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import Server
from uvicorn_worker import UvicornWorker

bind = os.environ.get("ESCALATION_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("ESCALATION_WORKERS", "2"))
# Threads let a worker overlap database waits; rule evaluation itself is
# serialised per process by the engine lock. Each worker runs views on this many.
threads = int(os.environ.get("ESCALATION_THREADS", "4"))
# No preload: the rule engine must be built inside each worker, never forked.
preload_app = False
timeout = 30
graceful_timeout = 20
# The service logs one JSON access line per request itself (service/api/observe.py);
# ESCALATION_ACCESS_LOG=- (or a file) turns gunicorn's own access log back on.
accesslog = os.environ.get("ESCALATION_ACCESS_LOG") or None
errorlog = "-"
# The request line and headers together, in bytes (uvicorn's h11 parser; 400 above).
MAX_HEADER_BYTES = 64 * 1024
# A connection must send a whole request line and headers within this many seconds
# of opening, or of its previous answer, else it is closed (uvicorn has no such limit).
HEADER_TIMEOUT = float(os.environ.get("ESCALATION_HEADER_TIMEOUT_SECONDS", "30"))


class HeadTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose request head is not in on time."""

    head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:
        """Start the clock for the first request's head."""
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        """Start the clock for the next request's head."""
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clock."""
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self.head_timer = self.loop.call_later(HEADER_TIMEOUT, self._expired)

    def _disarm(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _expired(self) -> None:
        self.head_timer = None
        # IDLE: no whole request head since the clock started (a request in progress is not).
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


class EscalationWorker(UvicornWorker):
    """A uvicorn worker serving the Flask app of ``wsgi:app`` with bodies read first."""

    CONFIG_KWARGS: dict[str, Any] = {  # noqa: RUF012 - uvicorn_worker's own name and type
        # asyncio, one new connection per wake-up: workers share bursts (service/fairloop.py).
        "loop": "service.fairloop:FairAcceptLoop",
        # Pinned, so limits do not change when httptools happens to be installed.
        "http": HeadTimeoutProtocol,
        "ws": "none",
        "lifespan": "off",
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "access_log": bool(accesslog),
        # Finish in-flight requests before the master's graceful_timeout kills us.
        "timeout_graceful_shutdown": max(graceful_timeout - 5, 1),
    }

    uvicorn_server: Server | None = None

    async def _serve(self) -> None:
        """Serve ``self.wsgi`` (the Flask app) wrapped for ASGI; keep the server to retire it."""
        from service.asgi import asgi_app

        self.config.app = asgi_app(self.wsgi, self.wsgi.config, threads=self.cfg.threads)
        self.uvicorn_server = Server(config=self.config)
        self._install_sigquit_handler()
        await self.uvicorn_server.serve(sockets=self.sockets)
        if not self.uvicorn_server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)

    def retire(self) -> None:
        """Stop taking requests, finish those in flight and exit; the master starts another."""
        self.alive = False
        if self.uvicorn_server is not None:
            self.uvicorn_server.should_exit = True


WORKER_CLASSES: dict[str, Any] = {"uvicorn": EscalationWorker, "gthread": "gthread"}
_chosen = os.environ.get("ESCALATION_WORKER_CLASS", "uvicorn")
if _chosen not in WORKER_CLASSES:
    sys.exit(f"ESCALATION_WORKER_CLASS is {_chosen!r}; use one of {', '.join(WORKER_CLASSES)}")
worker_class = WORKER_CLASSES[_chosen]


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    """Let the service ask for this worker to be replaced once it has built too many engines.

    durable-rules keeps a little memory of every ruleset it ever built; a
    worker that stops taking requests, finishes the ones it has and exits is
    replaced by the arbiter with a fresh one that boots from the database.
    ``worker.wsgi`` is the Flask app under either worker class.
    """
    services = getattr(worker.wsgi, "extensions", {}).get("escalation")
    if services is not None:

        def recycle() -> None:
            retire = getattr(worker, "retire", None)
            if retire is not None:
                retire()
            else:  # gthread: its main loop stops once alive is False
                worker.alive = False

        services.policies.on_recycle = recycle


# -- metrics across workers (docs/operations.md) --------------------------------
# Every worker writes its Prometheus counts to files in one directory, which
# GET /metrics adds up.  The variable must be set before a worker imports
# prometheus_client, so the master sets it at start, before any fork; the
# directory is emptied then, since counts of an earlier run must not add up.
_metrics_dir_made = False


def on_starting(server):  # type: ignore[no-untyped-def]
    """Create (or empty) the metrics directory and name it for the workers."""
    import glob
    import tempfile

    global _metrics_dir_made
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        path = tempfile.mkdtemp(prefix="escalation-metrics-")
        _metrics_dir_made = True
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    os.makedirs(path, exist_ok=True)
    for stale in glob.glob(os.path.join(path, "*.db")):
        os.remove(stale)


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    """Drop a dead worker's live gauges; its counters stay, so totals survive restarts."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):  # type: ignore[no-untyped-def]
    """Remove the metrics directory if this server made it."""
    import shutil

    if _metrics_dir_made:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
