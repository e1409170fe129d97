"""Build every error response: RFC 9457 problem+json with a stable snake_case code."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Sequence
from typing import Any

from flask import Flask, Response, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from schemas.api import ProblemV1Schema
from schemas.common import field_name, flatten
from service.api.codes import ErrorCode
from service.engine.durable_backend import EngineError

log = logging.getLogger(__name__)

PROBLEM_TYPE = "https://escalation.example/problems/"
PROBLEM_JSON = "application/problem+json"
# Reused: building a schema costs more than dumping with it.
PROBLEM_V1 = ProblemV1Schema()

# HTTP status -> (code, title) for errors raised by Flask and Werkzeug.
HTTP_CODES = {
    400: (ErrorCode.BAD_REQUEST, "Bad request"),
    404: (ErrorCode.NOT_FOUND, "Not found"),
    405: (ErrorCode.METHOD_NOT_ALLOWED, "Method not allowed"),
    406: (ErrorCode.NOT_ACCEPTABLE, "Not acceptable"),
    413: (ErrorCode.PAYLOAD_TOO_LARGE, "Payload too large"),
    415: (ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Unsupported media type"),
    500: (ErrorCode.INTERNAL_ERROR, "Internal error"),
}


class ApiError(Exception):
    """An error the API reports as a problem document."""

    def __init__(
        self,
        status: int,
        code: ErrorCode,
        title: str,
        detail: str,
        errors: Sequence[dict[str, str]] = (),
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.title, self.detail = status, code, title, detail
        self.errors = list(errors)
        self.extra = extra or {}


def validation_error(exc: ValidationError, prefix: Sequence[str] = ()) -> ApiError:
    """Turn marshmallow's messages into a 422 problem naming every field."""
    errors = [
        {"field": field_name((*prefix, *path)) or "(body)", "message": message}
        for path, message in flatten(exc.messages)
    ]
    fields = ", ".join(sorted({e["field"] for e in errors}))
    return ApiError(
        422,
        ErrorCode.VALIDATION_FAILED,
        "The request is not valid",
        f"invalid fields: {fields}",
        errors,
    )


def problem(error: ApiError) -> Response:
    """Render an ApiError as a problem+json response."""
    body = PROBLEM_V1.dump(
        {
            "type": PROBLEM_TYPE + error.code,
            "title": error.title,
            "status": error.status,
            "detail": error.detail,
            "instance": request.path,
            "code": error.code,
            "errors": error.errors,
        }
    )
    body.update(error.extra)
    return Response(
        # backslashreplace: a problem document is always sent, whatever text it echoes.
        json.dumps(body, ensure_ascii=False).encode("utf-8", "backslashreplace"),
        status=error.status,
        mimetype=PROBLEM_JSON,
    )


def _http(exc: HTTPException) -> Response:
    status = exc.code or 500
    code, title = HTTP_CODES.get(status, (ErrorCode.HTTP_ERROR, exc.name))
    detail = exc.description or title
    if status == 413:
        limit = request.max_content_length
        detail = f"the request body is larger than the limit of {limit} bytes"
    response = problem(ApiError(status, code, title, detail))
    if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    return response


def _engine(exc: EngineError) -> Response:
    log.error("engine failure: %s", exc)
    return problem(ApiError(500, ErrorCode.ENGINE_ERROR, "The rule engine failed", str(exc)))


def _unexpected(exc: Exception) -> Response:
    # The frames, not the message: an exception's text may quote the request
    # (a database error quotes its parameters), and message text must not reach a log.
    log.error(
        "unhandled error %s on %s %s\n%s",
        type(exc).__name__,
        request.method,
        request.url_rule.rule if request.url_rule else "(no route)",
        "".join(traceback.format_tb(exc.__traceback__)),
    )
    return problem(
        ApiError(
            500,
            ErrorCode.INTERNAL_ERROR,
            "Internal error",
            "an unexpected error occurred; it has been logged",
        )
    )


def init_app(app: Flask) -> None:
    """Register the handlers that turn every error into a problem document, and the URL check."""
    from service.api import body  # body builds its problems with this module

    body.init_app(app)
    app.register_error_handler(ApiError, problem)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(EngineError, _engine)
    app.register_error_handler(Exception, _unexpected)
