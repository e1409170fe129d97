"""Application logs: one JSON object per line, through structlog, configured in one place.

``configure`` routes the standard library's root logger through structlog's
formatter, so every ``logging.getLogger(__name__)`` call of the service comes
out as JSON with ``timestamp``, ``level``, ``logger``, ``event``,
``request_id`` (null outside a request) and ``pid``; arguments passed with
``extra=`` become fields of their own.  Code logs ids, revisions and counts,
never message text or bodies.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import uuid
from collections.abc import Callable, MutableMapping
from typing import Any, TextIO

import structlog

from service import jsonwire

HANDLER_NAME = "escalation-json"
REQUEST_ID_HEADER = "X-Request-ID"
# What a request id sent in may be: short, and nothing a log or header could trip on.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")
FIRST = ("timestamp", "level", "logger", "event", "request_id", "pid")


class _Stderr(logging.StreamHandler[TextIO]):
    """Write to whatever ``sys.stderr`` is at the time (test runners replace it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        """Return the current standard error."""
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        """Ignore: the stream is always the current standard error."""


def _pid(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event["pid"] = os.getpid()  # read per line: workers are forked
    return event


def _request_id(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event.setdefault("request_id", None)
    return event


def _ordered(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    # The fixed fields first, so a line reads the same way every time.
    first = {key: event.pop(key) for key in FIRST if key in event}
    return {**first, **event}


def _dumps(event: Any, default: Callable[[Any], Any]) -> str:
    # orjson writes a line several times faster than json (bench/edge.py); what it
    # cannot write (lone surrogates, integers past 64 bits) json writes as before.
    try:
        return jsonwire.dumps(event, default).decode("utf-8")
    except jsonwire.Unsure:
        return json.dumps(event, ensure_ascii=False, default=default)


def _shared() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        _request_id,
        _pid,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
    ]


def configure(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Send every log record to ``stream`` (standard error by default) as one JSON line.

    Idempotent: a second call replaces the handler of the first.
    """
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _ordered,
            structlog.processors.JSONRenderer(serializer=_dumps),
        ],
    )
    handler: logging.Handler = _Stderr() if stream is None else logging.StreamHandler(stream)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())


def request_id(given: str | None) -> str:
    """Return the request id sent in when it is short and safe, else a new one."""
    if given and REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


def bind_request(rid: str) -> None:
    """Add ``request_id`` to every line logged by this request's context."""
    structlog.contextvars.bind_contextvars(request_id=rid)


def unbind_request() -> None:
    """Stop adding the request id (the request is over)."""
    structlog.contextvars.unbind_contextvars("request_id")
