"""JSON in and out of the request edge with orjson, falling back to the standard library.

orjson parses and writes the bodies of the hot endpoints and the decision-log
lines several times faster than ``json``.  It is used only where its answer is
the one the standard library would give: anything it refuses or might read
differently (duplicate keys, escaped colons, integers of 19 digits or more,
lone surrogates, values it does not know) goes the standard library's way, so
errors and their messages stay what they were.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

# A colon written as an escape, which the key count below cannot see.
_ESCAPED_COLON = re.compile(rb"\\u003[aA]")
# Integers of 19 digits or more, which orjson may read as floats and json reads
# exactly, found as a run of 19 digits in the body with every digit made "0"
# (bytes.translate and find: a regular expression costs ten times more here).
_DIGITS_AS_ZERO = bytes(b"0"[0] if chr(i).isdigit() and i < 128 else b" "[0] for i in range(256))
_LONG_NUMBER = b"0" * 19
# orjson's own forms of datetimes and dataclasses are not what the standard library's
# callers produce: those go to ``default``, as with ``json``.  Subclasses of str, int,
# dict and list are written as their base type, as ``json`` writes them.
_DUMP_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class Unsure(Exception):
    """orjson's reading might differ from the standard library's: parse with ``json``."""


def has_long_integer(raw: bytes) -> bool:
    """Tell whether ``raw`` holds a run of 19 digits, which orjson may read other than json."""
    return _LONG_NUMBER in raw.translate(_DIGITS_AS_ZERO)


def loads(raw: bytes) -> Any:
    """Parse UTF-8 JSON as ``json.loads`` would, refusing duplicate keys; raise Unsure otherwise.

    Duplicate keys leave fewer keys than the body has: every colon outside a
    string follows exactly one key, and orjson writes back every colon inside
    a string as it is, so the parsed value written again has as many colons as
    the body only when no key was dropped.
    """
    if _ESCAPED_COLON.search(raw) or has_long_integer(raw):
        raise Unsure
    try:
        data = orjson.loads(raw)
        again = orjson.dumps(data)  # refuses nesting past 254 levels, which json reads
    except (orjson.JSONDecodeError, orjson.JSONEncodeError) as exc:
        raise Unsure from exc
    if again.count(b":") != raw.count(b":"):
        raise Unsure
    return data


def dumps(value: Any, default: Callable[[Any], Any] | None = None, *, sort: bool = False) -> bytes:
    """Return ``value`` as compact UTF-8 JSON; raise Unsure when orjson cannot write it.

    Compact and UTF-8 as ``json.dumps(..., separators=(",", ":"), ensure_ascii=False)``
    would write it: the same JSON values (floats in their shortest form).
    """
    try:
        return orjson.dumps(value, default, _DUMP_OPTIONS | (orjson.OPT_SORT_KEYS if sort else 0))
    except (orjson.JSONEncodeError, TypeError) as exc:
        # Integers past 64 bits, non-string keys, lone surrogates, unknown types.
        raise Unsure from exc
