"""Per-request observability: the request id, one access line and the request metrics.

The request id is ``X-Request-ID`` as sent when it is short and safe
(``service.logs.REQUEST_ID``), else a new one; every log line of the request
carries it and the response echoes it.  The access line holds the method,
path (never the query: it may carry text), route template, status, duration
and the API key's name when there is one; never a body.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

from service import logs, metrics
from service.api import auth

access = logging.getLogger("service.access")
UNMATCHED = "unmatched"
# Long enough for any real route; an absurd path is cut rather than logged whole.
MAX_PATH = 300


def _start() -> None:
    g.request_started = time.perf_counter()
    g.request_id = logs.request_id(request.headers.get(logs.REQUEST_ID_HEADER))
    logs.bind_request(g.request_id)


def _finish(response: Response) -> Response:
    if "request_id" not in g:  # another hook failed before ours ran
        _start()
    seconds = time.perf_counter() - g.request_started
    response.headers[logs.REQUEST_ID_HEADER] = g.request_id
    endpoint = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    metrics.count_request(request.method, endpoint, response.status_code, seconds)
    access.info(
        "request",
        extra={
            "method": request.method,
            "path": request.path[:MAX_PATH],
            "route": endpoint,
            "status": response.status_code,
            "duration_ms": round(seconds * 1000, 3),
            "key": auth.key_name(),
        },
    )
    return response


def _teardown(_: BaseException | None) -> None:
    logs.unbind_request()


def init_app(app: Flask) -> None:
    """Register the hooks; ours runs before any other, so the whole request is timed."""
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)
    app.teardown_request(_teardown)
