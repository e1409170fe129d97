"""Shared pieces of every schema: strict objects, plain-words errors, flattening.

Every schema rejects keys it does not know, naming the closest known key, and
uses error messages written for people who are not programmers.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator, Mapping
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

REQUIRED = "this field is required"
NULL = "must not be empty (null)"


def closest(word: str, choices: list[str]) -> str | None:
    """Return the closest choice to ``word``, or None."""
    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return found[0] if found else None


def unknown_key_message(key: str, known: list[str]) -> str:
    """Phrase an unknown-key error with a suggestion and the accepted keys."""
    best = closest(key, known)
    text = f'unknown field "{key}"'
    if best:
        return f'{text}; did you mean "{best}"?'
    return f"{text}; expected one of: {', '.join(sorted(known))}"


class StrictSchema(Schema):
    """A schema that reports unknown keys with a suggestion instead of ignoring them."""

    class Meta:
        unknown = EXCLUDE

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _reject_unknown(self, data: Any, original: Any, **kwargs: Any) -> None:
        if not isinstance(original, Mapping):
            return
        known = [f.data_key or name for name, f in self.load_fields.items()]
        errors = {
            str(key): [unknown_key_message(str(key), known)] for key in original if key not in known
        }
        if errors:
            raise ValidationError(errors)


class Choice(validate.Validator):
    """Accept one of a fixed set of values; suggest the closest one for a typo."""

    def __init__(self, choices: tuple[str, ...], what: str) -> None:
        self.choices, self.what = choices, what

    def __call__(self, value: Any) -> Any:
        if value in self.choices:
            return value
        best = closest(str(value), list(self.choices))
        hint = f'did you mean "{best}"?' if best else f"expected one of: {', '.join(self.choices)}"
        raise ValidationError(f'unknown {self.what} "{value}"; {hint}')


def _messages(
    extra: Mapping[str, str] | None = None,
) -> dict[str, str | list[Any] | dict[Any, Any]]:
    base: dict[str, str | list[Any] | dict[Any, Any]] = {"required": REQUIRED, "null": NULL}
    base.update(extra or {})
    return base


def string(**kwargs: Any) -> fields.String:
    """Return a string field with plain-words errors."""
    return fields.String(error_messages=_messages({"invalid": "expected text"}), **kwargs)


def integer(**kwargs: Any) -> fields.Integer:
    """Return a strict integer field with plain-words errors."""
    return fields.Integer(
        strict=True, error_messages=_messages({"invalid": "expected a whole number"}), **kwargs
    )


def number(**kwargs: Any) -> fields.Float:
    """Return a finite number field that refuses text and booleans."""
    return FiniteNumber(error_messages=_messages({"invalid": "expected a number"}), **kwargs)


def boolean(**kwargs: Any) -> fields.Boolean:
    """Return a boolean field that accepts only true and false."""
    return fields.Boolean(
        truthy={True},
        falsy={False},
        error_messages=_messages({"invalid": "expected true or false"}),
        **kwargs,
    )


class FiniteNumber(fields.Float):
    """A number that must be written as a number (not text, not a boolean) and be finite."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        if not math.isfinite(value):
            raise ValidationError("expected a finite number")
        return value


# marshmallow's own wording, for fields built without the factories above.
PLAIN_WORDS = {
    "Missing data for required field.": REQUIRED,
    "Field may not be null.": NULL,
    "Invalid input type.": "expected an object",
    "Not a valid mapping type.": "expected an object",
    "Not a valid list.": "expected a list",
    "Not a valid string.": "expected text",
    "Not a valid integer.": "expected a whole number",
    "Not a valid number.": "expected a number",
    "Not a valid boolean.": "expected true or false",
    "Not a valid datetime.": "expected an ISO 8601 timestamp",
    "Invalid type.": "expected an object",
}


def flatten(
    messages: Any, prefix: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Yield (path, message) pairs from marshmallow's nested error messages."""
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            if key == "_schema":
                yield from flatten(value, prefix)
            else:
                yield from flatten(value, (*prefix, key))
    elif isinstance(messages, list | tuple):
        for item in messages:
            yield from flatten(item, prefix)
    else:
        yield prefix, PLAIN_WORDS.get(str(messages), str(messages))
