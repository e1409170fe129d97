"""gunicorn settings for `make serve`; each can be overridden on the command line."""

import os

bind = os.environ.get("ESCALATION_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("ESCALATION_WORKERS", "2"))
# No preload: the rule engine must be built inside each worker, never forked.
preload_app = False
timeout = 30
graceful_timeout = 20
accesslog = "-"
errorlog = "-"
