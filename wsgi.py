"""WSGI entry point: ``gunicorn wsgi:app``.

The application is created in each worker process (gunicorn without
--preload), never in the master: the rule engine is not fork-safe.  A worker
serves the revision the database names; only a database with no active
rules and an invalid bundled rules folder stops it, with every problem printed.
"""

from __future__ import annotations

import sys

from service import create_app
from service.ruleset.issues import InvalidFiles

try:
    app = create_app()
except InvalidFiles as exc:
    print(
        "No active rules in the database and the rules folder is not valid; "
        f"the service will not start. {len(exc.issues)} problem(s):",
        file=sys.stderr,
    )
    for issue in exc.issues:
        print(f"  {issue}", file=sys.stderr)
    sys.exit(3)
