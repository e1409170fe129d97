"""Read a JSON request body strictly: JSON only, no duplicate keys, no NaN."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import IO, Any
from urllib.parse import unquote_to_bytes

from flask import Flask, request
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from schemas.common import StrictJSONError, strict_json, text_problem, unstorable_text
from service.api.codes import ErrorCode
from service.api.errors import ApiError, validation_error


def json_body() -> dict[str, Any]:
    """Return the request body as a JSON object, or raise a problem naming what is wrong."""
    if not request.is_json:
        raise ApiError(
            415,
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            "Unsupported media type",
            "send the body as JSON with Content-Type: application/json",
        )
    raw = read_body()
    try:
        data = strict_json(raw)
    except StrictJSONError as exc:
        raise ApiError(
            400, ErrorCode.INVALID_JSON, "Malformed JSON", f"the body is not valid JSON: {exc}"
        ) from exc
    if not isinstance(data, dict):
        raise ApiError(
            422,
            ErrorCode.VALIDATION_FAILED,
            "The request is not valid",
            "the body must be a JSON object",
            [{"field": "(body)", "message": "expected a JSON object"}],
        )
    broken = unstorable_text(raw, data)
    if broken:
        raise invalid(broken)
    return data


def invalid(problems: Sequence[tuple[str, str]]) -> ApiError:
    """Return a 422 problem naming each (field, message)."""
    return ApiError(
        422,
        ErrorCode.VALIDATION_FAILED,
        "The request is not valid",
        f"invalid fields: {', '.join(dict.fromkeys(name for name, _ in problems))}",
        [{"field": name, "message": message} for name, message in problems],
    )


def read_body() -> bytes:
    """Return the whole body, or raise 413 when it is larger than the request's limit.

    A body sent without Content-Length (Transfer-Encoding: chunked) is read
    through Werkzeug's LimitedStream, which stops at the limit without saying
    so: one byte more is read here to tell a whole body from a cut one.  The
    rest of a refused body is drained, within a bound, so that the client,
    still sending, reads the 413 instead of a reset connection.
    """
    limit = request.max_content_length
    if request.content_length is not None or limit is None:
        return request.get_data(cache=True)
    stream = request.input_stream
    if not request.environ.get("wsgi.input_terminated"):
        return b""  # no length and no server to end the stream: Werkzeug reads nothing
    data = _read(stream, limit + 1)
    if len(data) > limit:
        _read(stream, DRAIN_BYTES, keep=False)
        raise RequestEntityTooLarge()
    return data


# How much of a refused chunked body is read and thrown away (see read_body).
DRAIN_BYTES = 64 * 1024 * 1024


def _read(stream: IO[bytes], size: int, *, keep: bool = True) -> bytes:
    parts: list[bytes] = []
    left = size
    while left > 0:
        part = stream.read(min(left, 64 * 1024))
        if not part:
            break
        left -= len(part)
        if keep:
            parts.append(part)
    return b"".join(parts)


PATH_ID = re.compile(r"^[^\s\x00-\x1f/]{1,200}$")


def path_id(name: str, value: str) -> str:
    """Check an identifier taken from the URL path, or raise a 422 problem naming it."""
    if not PATH_ID.match(value):
        raise invalid([(name, "expected 1 to 200 characters without spaces or /")])
    return value


NOT_UTF8 = "not valid UTF-8 text"


def check_url() -> None:
    """Refuse a path or query string that is not UTF-8 or carries NUL, naming the field.

    Werkzeug decodes such bytes to U+FFFD replacement characters; an id would
    then be stored as something the client never sent.  Runs before every view.
    """
    if request.routing_exception is not None:
        return  # unknown route or method: that is the answer
    problems: list[tuple[str, str]] = []
    path = request.environ.get("PATH_INFO", "")
    try:
        path.encode("latin-1").decode("utf-8")
    except UnicodeError:
        problems += [
            (name, NOT_UTF8)
            for name, value in (request.view_args or {}).items()
            if isinstance(value, str) and "\ufffd" in value
        ]
    query = request.environ.get("QUERY_STRING", "")
    if query:
        for pair in query.encode("latin-1", "replace").split(b"&"):
            key, _, value = pair.partition(b"=")
            raw_key = unquote_to_bytes(key.replace(b"+", b" "))
            raw_value = unquote_to_bytes(value.replace(b"+", b" "))
            name = raw_key.decode("utf-8", "replace").replace("\x00", "") or "(query)"
            try:
                raw_key.decode("utf-8")
                raw_value.decode("utf-8")
            except UnicodeDecodeError:
                problems.append((name, NOT_UTF8))
                continue
            if b"\x00" in raw_key or b"\x00" in raw_value:
                problems.append((name, text_problem("\x00") or NOT_UTF8))
    if problems:
        raise invalid(problems)


def init_app(app: Flask) -> None:
    """Check every request's URL before its view runs."""
    app.before_request(check_url)


def validate(schema: Schema, data: Any) -> Any:
    """Validate data with a schema and return what it builds, or raise a 422 problem."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise validation_error(exc) from exc


def load(schema: Schema) -> Any:
    """Validate the JSON body with a schema and return what it builds."""
    return validate(schema, json_body())
