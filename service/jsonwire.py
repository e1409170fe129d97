"""JSON in and out of the request edge with orjson, falling back to the standard library.

orjson parses and writes the bodies of the hot endpoints and the decision-log
lines several times faster than ``json``.  It is used only where its answer is
the one the standard library would give: anything it refuses or might read
differently (duplicate keys, escaped colons, integers past 64 bits, lone
surrogates, values it does not know) goes the standard library's way, so
errors and their messages stay what they were.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

# A colon written as an escape: the key count below reads colons in the raw bytes.
_ESCAPED_COLON = re.compile(rb"\\u003[aA]")
# Integers past this are floats to orjson and exact integers to the standard library.
_EXACT = 2**63
# orjson's own forms of datetimes, dataclasses and str/int subclasses are not what
# the standard library's callers produce: those go to ``default``, as with ``json``.
_DUMP_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


class Unsure(Exception):
    """orjson's reading might differ from the standard library's: parse with ``json``."""


def loads(raw: bytes) -> Any:
    """Parse UTF-8 JSON as ``json.loads`` would, refusing duplicate keys; raise Unsure otherwise.

    Duplicate keys leave fewer keys than the body has key colons: every colon
    outside a string follows exactly one key, and colons inside strings are
    counted in the parsed text (escaped colons would hide from the count).
    """
    if _ESCAPED_COLON.search(raw):
        raise Unsure
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Unsure from exc
    if _colons(data) != raw.count(b":"):
        raise Unsure
    return data


def _colons(value: Any) -> int:
    """Return the keys plus the colons inside text, walking the parsed value."""
    if isinstance(value, str):
        return value.count(":")
    if isinstance(value, dict):
        total = 0
        for key, item in value.items():
            total += 1 + key.count(":") + _colons(item)
        return total
    if isinstance(value, list):
        return sum(_colons(item) for item in value)
    if isinstance(value, float) and abs(value) >= _EXACT:
        raise Unsure  # a large integer orjson read as a float, or a huge float: let json decide
    return 0


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
