"""gunicorn settings for `make serve`; each can be overridden by the environment."""

import os

bind = os.environ.get("ESCALATION_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("ESCALATION_WORKERS", "2"))
# Threads let a worker overlap database waits; rule evaluation itself is
# serialised per process by the engine lock.
threads = int(os.environ.get("ESCALATION_THREADS", "4"))
# No preload: the rule engine must be built inside each worker, never forked.
preload_app = False
timeout = 30
graceful_timeout = 20
accesslog = os.environ.get("ESCALATION_ACCESS_LOG", "-")
errorlog = "-"


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    """Let the service ask for this worker to be replaced once it has built too many engines.

    durable-rules keeps a little memory of every ruleset it ever built; a
    worker that stops taking requests, finishes the ones it has and exits is
    replaced by the arbiter with a fresh one that boots from the database.
    """
    services = getattr(worker.wsgi, "extensions", {}).get("escalation")
    if services is not None:

        def recycle() -> None:
            worker.alive = False

        services.policies.on_recycle = recycle
