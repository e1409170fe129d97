"""A reference evaluator: the rule semantics read literally, in plain Python.

Used only by the tests, to check the compiled durable-rules path.  It shares
nothing with the compiler or the engine but the rule model, and is written to
be obviously right rather than fast.

Semantics (README, "Conditions"):
* A field holds a value only if the value has the field's type (booleans are
  not numbers; lists hold text); anything else counts as missing.
* eq, lt, lte, gt, gte, in and contains are false when either side is missing.
* ne is "not eq", not_in is "not in": true when the field is missing.
* exists: true/false tells whether the field holds a value.
* contains on text is case-insensitive; on a list it is membership.
* all/any/not are the usual and/or/not.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from typing import Any

from service.engine.model import AllOf, AnyOf, Condition, FieldRef, NotOf, Predicate

ABSENT = object()


def read(facts: Mapping[str, Any], path: str, kind: str | None) -> Any:
    """Return the value of ``path`` if it has type ``kind`` (None: any scalar), else ABSENT."""
    value = facts.get(path, ABSENT)
    if value is ABSENT or value is None:
        return ABSENT
    is_bool = isinstance(value, bool)
    is_number = isinstance(value, (int, float)) and not is_bool
    if is_number and not math.isfinite(value):
        return ABSENT
    ok = {
        "number": is_number,
        "string": isinstance(value, str),
        "boolean": is_bool,
        "list": isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value),
        None: is_bool or is_number or isinstance(value, str),
    }[kind]
    if not ok:
        return ABSENT
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, (list, tuple)):
        return [unicodedata.normalize("NFC", v) for v in value]
    return value


def same(a: Any, b: Any) -> bool:
    """Equality that never confuses true with 1 or "1" with 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    return a == b


def evaluate(cond: Condition, facts: Mapping[str, Any], kinds: Mapping[str, str | None]) -> bool:
    """Tell whether ``cond`` holds for ``facts``; ``kinds`` gives each field's type name."""
    if isinstance(cond, AllOf):
        return all(evaluate(c, facts, kinds) for c in cond.children)
    if isinstance(cond, AnyOf):
        return any(evaluate(c, facts, kinds) for c in cond.children)
    if isinstance(cond, NotOf):
        return not evaluate(cond.child, facts, kinds)
    return predicate(cond, facts, kinds)


def predicate(p: Predicate, facts: Mapping[str, Any], kinds: Mapping[str, str | None]) -> bool:
    """Evaluate one comparison."""
    if p.op == "ne":
        return not predicate(Predicate(p.field, "eq", p.value), facts, kinds)
    if p.op == "not_in":
        return not predicate(Predicate(p.field, "in", p.value), facts, kinds)
    left = read(facts, p.field, kinds[p.field])
    if p.op == "exists":
        return (left is not ABSENT) == p.value
    right: Any = p.value
    if isinstance(right, FieldRef):
        right = read(facts, right.path, kinds[right.path] if p.op != "contains" else "string")
    if left is ABSENT or right is ABSENT:
        return False
    if p.op == "contains":
        if isinstance(left, str):
            return unicodedata.normalize("NFC", right).casefold() in left.casefold()
        return unicodedata.normalize("NFC", right) in left
    if p.op == "eq":
        return same(left, right)
    if p.op == "in":
        return any(same(left, v) for v in right)
    if (
        isinstance(left, bool)
        or isinstance(right, bool)
        or isinstance(left, str)
        or isinstance(right, str)
    ):
        return False
    return {
        "lt": left < right,
        "lte": left <= right,
        "gt": left > right,
        "gte": left >= right,
    }[p.op]
