"""Read a JSON request body strictly: JSON only, no duplicate keys, no NaN."""

from __future__ import annotations

import re
from typing import Any

from flask import request
from marshmallow import Schema, ValidationError

from schemas.common import StrictJSONError, lone_surrogates, strict_json
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
    raw = request.get_data(cache=True)
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
    broken = lone_surrogates(raw, data)
    if broken:
        raise ApiError(
            422,
            ErrorCode.VALIDATION_FAILED,
            "The request is not valid",
            f"invalid fields: {', '.join(broken)}",
            [
                {"field": name, "message": "not valid Unicode text (a lone surrogate escape)"}
                for name in broken
            ],
        )
    return data


PATH_ID = re.compile(r"^[^\s\x00-\x1f/]{1,200}$")


def path_id(name: str, value: str) -> str:
    """Check an identifier taken from the URL path, or raise a 422 problem naming it."""
    if not PATH_ID.match(value):
        raise ApiError(
            422,
            ErrorCode.VALIDATION_FAILED,
            "The request is not valid",
            f"invalid fields: {name}",
            [{"field": name, "message": "expected 1 to 200 characters without spaces or /"}],
        )
    return value


def validate(schema: Schema, data: Any) -> Any:
    """Validate data with a schema and return what it builds, or raise a 422 problem."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise validation_error(exc) from exc


def load(schema: Schema) -> Any:
    """Validate the JSON body with a schema and return what it builds."""
    return validate(schema, json_body())
