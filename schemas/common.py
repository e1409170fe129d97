"""Shared pieces of every schema: strict objects, plain-words errors, flattening.

Every schema rejects keys it does not know, naming the closest known key, and
uses error messages written for people who are not programmers.  A guess at
what was meant travels as a ``Hinted`` message, so rule files can show it as
the issue's hint while API errors keep reading "message; hint".
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from marshmallow import (
    EXCLUDE,
    RAISE,
    Schema,
    ValidationError,
    fields,
    missing,
    validate,
    validates_schema,
)
from marshmallow.error_store import ErrorStore
from marshmallow.types import UnknownOption

from service import jsonwire
from service.hints import Hinted, did_you_mean, one_of

REQUIRED = "this field is required"
NULL = "must not be empty (null)"


def unknown_key_message(key: str, known: list[str]) -> Hinted:
    """Phrase an unknown-key error with a suggestion or the accepted keys as its hint."""
    return Hinted(f'unknown field "{key}"', did_you_mean(key, known) or one_of(sorted(known)))


# What Field.deserialize does that the load plan repeats (StrictSchema._deserialize).
_PLAIN = ("deserialize", "_validate_missing", "_validate", "_validate_all")


def _validate_all(validators: Iterable[Any], value: Any) -> None:
    """Run every validator on ``value`` and raise their errors together, as marshmallow's And."""
    errors: list[Any] = []
    kwargs: dict[str, Any] = {}
    for validator in validators:
        try:
            validator(value)
        except ValidationError as error:
            kwargs.update(error.kwargs)
            if isinstance(error.messages, dict):
                errors.append(error.messages)
            else:
                errors.extend(error.messages)
    if errors:
        raise ValidationError(errors, **kwargs)


class StrictSchema(Schema):
    """A schema that reports unknown keys with a suggestion instead of ignoring them."""

    class Meta:
        unknown = EXCLUDE

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _reject_unknown(self, data: Any, original: Any, **kwargs: Any) -> None:
        if not isinstance(original, Mapping):
            return
        known, accepted = self._known_keys()
        errors = {
            str(key): [unknown_key_message(str(key), known)]
            for key in original
            if key not in accepted
        }
        if errors:
            raise ValidationError(errors)

    def _deserialize(
        self,
        data: Any,
        *,
        error_store: ErrorStore,
        many: bool = False,
        partial: Any = None,
        unknown: UnknownOption = RAISE,
        index: int | None = None,
    ) -> Any:
        """Load one object's fields as marshmallow does, over a field list worked out once.

        marshmallow's own loop builds a closure and a call chain for every field,
        present or not; a request body names few of a snapshot's twenty fields.
        Here an absent optional field takes its default directly and a present one
        goes straight to its field's own deserialize and validators; errors are
        stored exactly as marshmallow stores them.  Lists of objects, partial
        loads and other unknown-key modes take marshmallow's loop.
        """
        plan = self._load_plan()
        if many or partial is not None or unknown != EXCLUDE or plan is None:
            return super()._deserialize(
                data,
                error_store=error_store,
                many=many,
                partial=partial,
                unknown=unknown,
                index=index,
            )
        if not isinstance(data, Mapping):
            # marshmallow's message and place for a value that is not an object.
            return super()._deserialize(
                data, error_store=error_store, partial=partial, unknown=unknown, index=index
            )
        index = index if self.opts.index_errors else None
        loaded = self.dict_class()
        for attribute, key, field, plain in plan:
            raw = data.get(key, missing)
            try:
                if not plain or raw is None or (raw is missing and field.required):
                    value = field.deserialize(raw, key, data)
                elif raw is missing:
                    # What Field.deserialize answers for an absent optional field.
                    default = field.load_default
                    value = default() if callable(default) else default
                else:
                    # Field.deserialize for a value given, without building its validators'
                    # And on every call.
                    value = field._deserialize(raw, key, data)
                    if field.validators:
                        _validate_all(field.validators, value)
            except ValidationError as error:
                error_store.store_error(error.messages, key, index=index)  # type: ignore[no-untyped-call]
                value = error.valid_data or missing
            if value is not missing:
                loaded[attribute] = value
        return loaded

    def _load_plan(self) -> tuple[tuple[str, str, fields.Field[Any], bool], ...] | None:
        """Return (attribute, key, field, plain) per loaded field, worked out once per instance.

        A plain field does what Field.deserialize does, nothing of its own.

        None when an attribute is a dotted path: marshmallow's loop nests those.
        """
        if "_strict_plan" not in self.__dict__:
            plan = tuple(
                (
                    field.attribute or name,
                    field.data_key or name,
                    field,
                    # Fields that deserialize, check absence or validate their own way,
                    # or have processors of their own, are asked through deserialize.
                    not field.pre_load
                    and not field.post_load
                    and all(
                        getattr(type(field), name) is getattr(fields.Field, name) for name in _PLAIN
                    ),
                )
                for name, field in self.load_fields.items()
            )
            dotted = any("." in attribute for attribute, _, _, _ in plan)
            self._strict_plan = None if dotted else plan
        cached: tuple[tuple[str, str, fields.Field[Any], bool], ...] | None = self._strict_plan
        return cached

    def _known_keys(self) -> tuple[list[str], frozenset[str]]:
        """Return the keys this schema loads, as a list and a set, worked out once per instance."""
        # Cached under a name no schema's own method takes (HolidaysSchema has a
        # validator called _known, which the cache once hid on a reused instance).
        cached: tuple[list[str], frozenset[str]] | None = self.__dict__.get("_strict_known")
        if cached is None:
            # Schemas are built once and reused across requests: the fields never change.
            names = [f.data_key or name for name, f in self.load_fields.items()]
            cached = self._strict_known = (names, frozenset(names))
        return cached


class Choice(validate.Validator):
    """Accept one of a fixed set of values; suggest the closest one for a typo.

    With ``echo`` false the message does not repeat the value: API requests may
    carry customer text anywhere, and errors never show it (docs/masking.md).
    """

    def __init__(self, choices: tuple[str, ...], what: str, *, echo: bool = True) -> None:
        self.choices, self.what, self.echo = choices, what, echo

    def __call__(self, value: Any) -> Any:
        if value in self.choices:
            return value
        hint = did_you_mean(str(value), self.choices) or one_of(self.choices)
        told = f'unknown {self.what} "{value}"' if self.echo else f"unknown {self.what}"
        raise ValidationError(Hinted(told, hint))


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


# Cursors are row ids: a 64-bit signed integer in either database.
MAX_CURSOR = 2**63 - 1


def cursor(minimum: int, description: str) -> fields.Integer:
    """Return a paging cursor read from a query string, bounded so no database overflows."""
    return fields.Integer(
        validate=validate.Range(minimum, MAX_CURSOR, error=f"expected a cursor from {minimum}"),
        error_messages={"invalid": "expected a whole number"},
        metadata={"description": description},
    )


# A feed position: (transaction id, sequence number) of the last row read.
FeedPosition = tuple[int, int]
_FEED_TOKEN = "f1"
_BAD_CURSOR = "expected a cursor: next_after of an earlier page"


def feed_token(position: FeedPosition | int) -> str:
    """Return the opaque cursor a client passes back as after= (an old integer stays one)."""
    if isinstance(position, int):
        return str(position)
    text = f"{_FEED_TOKEN}.{position[0]}.{position[1]}".encode("ascii")
    return base64.urlsafe_b64encode(text).decode("ascii").rstrip("=")


class FeedCursor(fields.Field[Any]):
    """A decision-feed cursor: an opaque token, or the integer cursors handed out before it."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str) or not 0 < len(value) <= 64 or not value.isascii():
            raise ValidationError(_BAD_CURSOR)
        if value.isdigit():
            number = int(value)
            if number > MAX_CURSOR:
                raise ValidationError(_BAD_CURSOR)
            return number
        try:
            text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise ValidationError(_BAD_CURSOR) from None
        version, _, rest = text.partition(".")
        txid, _, seq = rest.partition(".")
        if version != _FEED_TOKEN or not txid.isdigit() or not seq.isdigit():
            raise ValidationError(_BAD_CURSOR)
        position = (int(txid), int(seq))
        if max(position) > MAX_CURSOR:
            raise ValidationError(_BAD_CURSOR)
        return position


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


class StrictJSONError(ValueError):
    """A JSON document that is malformed, or legal JSON we refuse (duplicate keys, NaN)."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f'the key "{key}" appears twice in one object')
        result[key] = value
    return result


def strict_json(raw: str | bytes) -> Any:
    """Parse JSON refusing duplicate keys and NaN/Infinity; raise StrictJSONError saying where."""
    if isinstance(raw, bytes):
        try:
            return jsonwire.loads(raw)  # the common case, several times faster
        except jsonwire.Unsure:
            pass  # refused or unsure: the standard library decides, and says where
        # json.loads would guess UTF-16 or UTF-32 from the bytes: the text checks
        # made on the raw bytes (lone surrogates, NUL) hold for UTF-8 only.
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise StrictJSONError(f"the body is not UTF-8 text (byte {exc.start})") from exc
    try:
        return json.loads(raw, object_pairs_hook=_pairs, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise StrictJSONError(f"{exc.msg} at line {exc.lineno}, column {exc.colno}") from exc
    except (ValueError, RecursionError) as exc:
        raise StrictJSONError(str(exc) or type(exc).__name__) from exc


def field_name(path: Iterable[str | int]) -> str:
    """Render a field path as integrators write it: event.customer.id, case.customer.flags[0]."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# A \uD800-\uDFFF escape: the only way a JSON text can carry a lone surrogate.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# A \u0000 escape: the only way a JSON text can carry a NUL (raw control characters are invalid).
_NUL_ESCAPE = re.compile(rb"\\u0000")
LONE_SURROGATE_MESSAGE = "not valid Unicode text (a lone surrogate escape)"
NUL_MESSAGE = "must not contain the NUL character (\\u0000)"


def text_problem(text: str) -> str | None:
    """Return why ``text`` cannot be stored, logged or answered, or None when it can."""
    if _LONE_SURROGATE.search(text):
        return LONE_SURROGATE_MESSAGE
    if "\x00" in text:
        return NUL_MESSAGE
    return None


def unstorable_text(raw: bytes, data: Any) -> list[tuple[str, str]]:
    """Return (field, why) for every key or text of parsed JSON no database can store.

    JSON may escape half of a UTF-16 pair on its own ("\\ud800"), which is no
    Unicode text at all: it cannot be stored, logged or answered; and it may
    escape NUL ("\\u0000"), which PostgreSQL refuses in text and jsonb.  ``raw``
    is checked first so that ordinary bodies cost one scan of their bytes.
    """
    if not (_SURROGATE_ESCAPE.search(raw) or _NUL_ESCAPE.search(raw)):
        return []
    found: list[tuple[str, str]] = []

    def walk(value: Any, path: tuple[str | int, ...]) -> None:
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                found.append((field_name(path) or "(body)", problem))
        elif isinstance(value, dict):
            for key, item in value.items():
                problem = text_problem(key)
                safe_key = "(key)" if problem else key
                if problem:
                    found.append((field_name((*path, safe_key)), problem))
                walk(item, (*path, safe_key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, (*path, index))

    walk(data, ())
    return found


def lone_surrogates(raw: bytes, data: Any) -> list[str]:
    """Return the fields of parsed JSON whose key or text holds a lone surrogate."""
    return [
        name for name, problem in unstorable_text(raw, data) if problem == LONE_SURROGATE_MESSAGE
    ]
