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
# The service logs one JSON access line per request itself (service/api/observe.py);
# ESCALATION_ACCESS_LOG=- (or a file) turns gunicorn's own access log back on.
accesslog = os.environ.get("ESCALATION_ACCESS_LOG") or None
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
