"""Say why a rule matched, or why it did not, with the values observed.

Given a rule the engine reported as matching, walk its condition and render
the parts that hold, each with the value seen: ``case.hostility 4 >=
agent.limits.max_hostility 3``.  ``holds`` is the plain reading of the
condition semantics documented in the README; the property tests check that
it agrees with the engine on every rule that fires.

For a rule that did not match, ``first_failure`` finds the condition that
failed: under ``all`` the first child in file order that does not hold
(descending into it), under ``any`` every alternative's own first failure
joined by " or " (none held, so each one is part of the reason), under
``not`` the inner condition, which held.  It is rendered with the values seen
and ``: false`` (``case.complexity 3 > agent.limits.max_complexity 3:
false``).  Message text is never shown, only its length.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from service.engine import catalog
from service.engine.catalog import FieldType
from service.engine.facts import MISSING, Facts, FactValue, _Missing, contains, value_of
from service.engine.model import AllOf, AnyOf, Condition, FieldRef, NotOf, Predicate
from service.engine.readable import CATALOGUE
from service.masking import ATTRIBUTE_PREFIX, Readable

SYMBOL = {
    "eq": "=",
    "ne": "!=",
    "lt": "<",
    "lte": "<=",
    "gt": ">",
    "gte": ">=",
    "in": "in",
    "not_in": "not in",
    "contains": "contains",
}
Evidence = Mapping[str, str]  # signal name -> "(pl) matched entry '...' at lexicons/...:3"


def _type(path: str, types: Mapping[str, FieldType | None]) -> FieldType | None:
    spec = catalog.lookup(path)
    return spec.type if spec else types.get(path)


def _compare(op: str, left: FactValue, right: FactValue) -> bool:
    if op == "eq":
        if isinstance(left, bool) or isinstance(right, bool):
            return isinstance(left, bool) and isinstance(right, bool) and left == right
        if isinstance(left, str) != isinstance(right, str):
            return False
        return left == right
    if not isinstance(left, int | float) or not isinstance(right, int | float):
        return False
    return _ORDER[op](left, right)


# Built once: every explained comparison looks its operator up here.
_ORDER: dict[str, Callable[[float, float], bool]] = {
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
}


def holds(cond: Condition, facts: Facts, types: Mapping[str, FieldType | None]) -> bool:
    """Evaluate a condition; a missing value fails every test but ne, not_in, exists: false."""
    if isinstance(cond, AllOf):
        return all(holds(child, facts, types) for child in cond.children)
    if isinstance(cond, AnyOf):
        return any(holds(child, facts, types) for child in cond.children)
    if isinstance(cond, NotOf):
        return not holds(cond.child, facts, types)
    return _predicate(cond, facts, types)


def _resolve(
    pred: Predicate, facts: Facts, types: Mapping[str, FieldType | None]
) -> tuple[FactValue | _Missing, object]:
    ftype = _type(pred.field, types)
    left = value_of(facts, pred.field, ftype)
    right: object = pred.value
    if isinstance(pred.value, FieldRef):
        rtype = _type(pred.value.path, types) or (ftype if pred.op != "contains" else None)
        right = value_of(facts, pred.value.path, rtype)
    return left, right


def _predicate(pred: Predicate, facts: Facts, types: Mapping[str, FieldType | None]) -> bool:
    if pred.op in ("ne", "not_in"):
        positive = Predicate(pred.field, "eq" if pred.op == "ne" else "in", pred.value, pred.where)
        return not _predicate(positive, facts, types)
    left, right = _resolve(pred, facts, types)
    if pred.op == "exists":
        return (not isinstance(left, _Missing)) == bool(pred.value)
    if pred.op == "contains":
        return contains(left, right)
    if isinstance(left, _Missing) or isinstance(right, _Missing):
        return False
    if pred.op == "in":
        assert isinstance(right, tuple)
        return any(_compare("eq", left, item) for item in right)
    assert isinstance(right, str | int | float | bool | tuple)
    return _compare(pred.op, left, right)


def _show(value: object) -> str:
    if isinstance(value, _Missing):
        return "(absent)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def show(value: object) -> str:
    """Render a value the way explanations show it."""
    return _show(value)


def hidden(path: str, value: object, readable: Readable = CATALOGUE) -> str | None:
    """Return the stand-in for a value that may be customer text, or None when it may be shown.

    Message text shows only its length; an event attribute only when the rules
    read it as a number or an enumeration (``Readable``).
    """
    if isinstance(value, _Missing) or value is None:
        return None
    if path in TEXT_FIELDS or (
        path.startswith(ATTRIBUTE_PREFIX) and not readable.shows(path, value)
    ):
        if isinstance(value, str):
            return f"(text, {len(value)} characters)"
        return "(value not shown)"
    return None


def _shown(path: str, value: object, readable: Readable) -> str:
    """Render a field's value, or its stand-in when it may be customer text."""
    return hidden(path, value, readable) or _show(value)


def describe(
    pred: Predicate,
    facts: Facts,
    types: Mapping[str, FieldType | None],
    evidence: Evidence,
    readable: Readable = CATALOGUE,
) -> str:
    """Render one predicate with the values observed (never message text)."""
    left, right = _resolve(pred, facts, types)
    if pred.op == "exists":
        return f"{pred.field} is {'present' if pred.value else 'absent'}" + (
            f" ({_shown(pred.field, left, readable)})" if not isinstance(left, _Missing) else ""
        )
    if pred.field == "signals" and pred.op == "contains" and isinstance(right, str):
        detail = evidence.get(right)
        return f"signal {right} {detail}" if detail else f"signals contains {right}"
    lhs = f"{pred.field} {_shown(pred.field, left, readable)}"
    rhs = (
        f"{pred.value.path} {_shown(pred.value.path, right, readable)}"
        if isinstance(pred.value, FieldRef)
        else _show(right)
    )
    return f"{lhs} {SYMBOL[pred.op]} {rhs}"


def explain(
    cond: Condition,
    facts: Facts,
    types: Mapping[str, FieldType | None],
    evidence: Evidence,
    readable: Readable = CATALOGUE,
) -> str:
    """Render the parts of a condition that hold, joined the way they combine."""
    if isinstance(cond, Predicate):
        return describe(cond, facts, types, evidence, readable)
    if isinstance(cond, NotOf):
        inner = cond.child
        if isinstance(inner, Predicate):
            return f"not ({describe(inner, facts, types, evidence, readable)})"
        return f"not ({_render_all(inner, facts, types, evidence, readable)})"
    parts: Sequence[Condition] = cond.children
    if isinstance(cond, AnyOf):
        parts = [child for child in cond.children if holds(child, facts, types)] or parts
        joiner = " or "
    else:
        joiner = " and "
    rendered = [explain(child, facts, types, evidence, readable) for child in parts]
    return joiner.join(f"({r})" if " and " in r or " or " in r else r for r in rendered)


def _render_all(
    cond: Condition,
    facts: Facts,
    types: Mapping[str, FieldType | None],
    evidence: Evidence,
    readable: Readable,
) -> str:
    """Render every part of a condition (used under ``not``, where none hold)."""
    if isinstance(cond, Predicate):
        return describe(cond, facts, types, evidence, readable)
    if isinstance(cond, NotOf):
        return f"not ({_render_all(cond.child, facts, types, evidence, readable)})"
    joiner = " or " if isinstance(cond, AnyOf) else " and "
    return joiner.join(
        _render_all(child, facts, types, evidence, readable) for child in cond.children
    )


# Fields that carry what the customer wrote: their values are never rendered.
TEXT_FIELDS = frozenset({"event.text"})
ABSENT = "(absent)"
Observed = FactValue  # a fact value, or a stand-in string such as "(absent)"


@dataclass(frozen=True)
class Failure:
    """Why a condition does not hold: the failing part rendered, and the value it saw.

    ``field`` and ``observed`` belong to the first failing comparison (for
    ``not``, the first comparison of the inner condition that held; None when
    the condition has no comparison at all, as in an empty ``any``).  Under
    ``any``, ``alternatives`` holds each alternative's own failure.
    """

    condition: str
    field: str | None
    observed: Observed
    alternatives: tuple[Failure, ...] = ()


def _seen(
    path: str, value: FactValue | _Missing, facts: Facts, readable: Readable = CATALOGUE
) -> Observed:
    """Return what a rule author is shown of a field's value: never message text."""
    stand_in = hidden(path, value, readable)
    if stand_in is not None:
        return stand_in
    if isinstance(value, _Missing):
        raw = facts.get(path)
        # A value of the wrong type reads as missing; say so instead of "(absent)".
        if path in facts and raw is not None and path not in TEXT_FIELDS:
            return f"(wrong type: {_shown(path, raw, readable)})"
        return ABSENT
    return value


def _render(
    pred: Predicate, facts: Facts, types: Mapping[str, FieldType | None], readable: Readable
) -> str:
    """Render one comparison as ``field value op operand`` with the values seen."""
    left, right = _resolve(pred, facts, types)
    lhs = f"{pred.field} {_show(_seen(pred.field, left, facts, readable))}"
    if pred.op == "exists":
        return f"{lhs} is {'present' if pred.value else 'absent'}"
    seeable = (str, int, float, bool, tuple, _Missing)
    if isinstance(pred.value, FieldRef) and isinstance(right, seeable):
        rhs = f"{pred.value.path} {_show(_seen(pred.value.path, right, facts, readable))}"
    else:
        rhs = _show(pred.value)
    return f"{lhs} {SYMBOL[pred.op]} {rhs}"


def _render_whole(
    cond: Condition, facts: Facts, types: Mapping[str, FieldType | None], readable: Readable
) -> str:
    """Render every part of a condition with the values seen."""
    if isinstance(cond, Predicate):
        return _render(cond, facts, types, readable)
    if isinstance(cond, NotOf):
        return f"not ({_render_whole(cond.child, facts, types, readable)})"
    joiner = " or " if isinstance(cond, AnyOf) else " and "
    parts = [_render_whole(child, facts, types, readable) for child in cond.children]
    return joiner.join(f"({p})" if " and " in p or " or " in p else p for p in parts)


def _witness(
    cond: Condition, truth: bool, facts: Facts, types: Mapping[str, FieldType | None]
) -> Predicate | None:
    """Return the first comparison that makes ``cond`` come out ``truth``."""
    if isinstance(cond, Predicate):
        return cond
    if isinstance(cond, NotOf):
        return _witness(cond.child, not truth, facts, types)
    # A false all and a true any are decided by their first child of that value; a true
    # all and a false any by every child alike, so again the first one.
    for child in cond.children:
        if holds(child, facts, types) == truth:
            return _witness(child, truth, facts, types)
    return None


def _failure_of(
    cond: Condition, facts: Facts, types: Mapping[str, FieldType | None], readable: Readable
) -> Failure | None:
    if isinstance(cond, Predicate):
        if _predicate(cond, facts, types):
            return None
        left, _ = _resolve(cond, facts, types)
        return Failure(
            f"{_render(cond, facts, types, readable)}: false",
            cond.field,
            _seen(cond.field, left, facts, readable),
        )
    if isinstance(cond, NotOf):
        if not holds(cond.child, facts, types):
            return None
        witness = _witness(cond.child, True, facts, types)
        return Failure(
            f"not ({_render_whole(cond.child, facts, types, readable)}): false",
            witness.field if witness else None,
            _observed_at(witness, facts, types, readable),
        )
    if isinstance(cond, AllOf):
        for child in cond.children:
            failure = _failure_of(child, facts, types, readable)
            if failure is not None:
                return failure
        return None
    alternatives = []
    for child in cond.children:
        failure = _failure_of(child, facts, types, readable)
        if failure is None:
            return None
        alternatives.append(failure)
    if not alternatives:
        return Failure("any of no conditions: false", None, ABSENT)
    first = alternatives[0]
    return Failure(
        " or ".join(a.condition for a in alternatives),
        first.field,
        first.observed,
        tuple(alternatives),
    )


def _observed_at(
    pred: Predicate | None, facts: Facts, types: Mapping[str, FieldType | None], readable: Readable
) -> Observed:
    if pred is None:
        return ABSENT
    left, _ = _resolve(pred, facts, types)
    return _seen(pred.field, left, facts, readable)


def first_failure(
    cond: Condition,
    facts: Facts,
    types: Mapping[str, FieldType | None],
    readable: Readable = CATALOGUE,
) -> Failure | None:
    """Return why ``cond`` does not hold for ``facts``, or None when it holds.

    Message text and attribute values ``readable`` does not show appear only as stand-ins.
    """
    return _failure_of(cond, facts, types, readable)


__all__ = [
    "ABSENT",
    "MISSING",
    "Failure",
    "describe",
    "explain",
    "first_failure",
    "hidden",
    "holds",
    "show",
]
