"""WSGI entry point: ``gunicorn wsgi:app``.

The application is created in each worker process (gunicorn without
--preload), never in the master: the rule engine is not fork-safe.  An
invalid rule set stops the worker with every problem printed.
"""

from __future__ import annotations

import sys

from service import create_app
from service.ruleset.issues import InvalidFiles

try:
    app = create_app()
except InvalidFiles as exc:
    print(
        f"The rule set is not valid; the service will not start. {len(exc.issues)} problem(s):",
        file=sys.stderr,
    )
    for issue in exc.issues:
        print(f"  {issue}", file=sys.stderr)
    sys.exit(3)
