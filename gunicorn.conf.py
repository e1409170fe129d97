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
