"""Shared pieces of every schema: strict objects, plain-words errors, flattening.

Every schema rejects keys it does not know, naming the closest known key, and
uses error messages written for people who are not programmers.  A guess at
what was meant travels as a ``Hinted`` message, so rule files can show it as
the issue's hint while API errors keep reading "message; hint".
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from service.hints import Hinted, did_you_mean, one_of

REQUIRED = "this field is required"
NULL = "must not be empty (null)"


def unknown_key_message(key: str, known: list[str]) -> Hinted:
    """Phrase an unknown-key error with a suggestion or the accepted keys as its hint."""
    return Hinted(f'unknown field "{key}"', did_you_mean(key, known) or one_of(sorted(known)))


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
        hint = did_you_mean(str(value), self.choices) or one_of(self.choices)
        raise ValidationError(Hinted(f'unknown {self.what} "{value}"', hint))


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
    """Yield (path, message) pairs from marshmallow's nested error messages.

    A ``Hinted`` message is yielded as it is, so its hint can still be told apart.
    """
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            if key == "_schema":
                yield from flatten(value, prefix)
            else:
                yield from flatten(value, (*prefix, key))
    elif isinstance(messages, list | tuple):
        for item in messages:
            yield from flatten(item, prefix)
    elif isinstance(messages, str) and messages not in PLAIN_WORDS:
        yield prefix, messages
    else:
        yield prefix, PLAIN_WORDS.get(str(messages), str(messages))
