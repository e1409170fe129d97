"""Say why a rule matched, with the values observed.

Given a rule the engine reported as matching, walk its condition and render
the parts that hold, each with the value seen: ``case.hostility 4 >=
agent.limits.max_hostility 3``.  ``holds`` is the plain reading of the
condition semantics documented in the README; the property tests check that
it agrees with the engine on every rule that fires.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from service.engine import catalog
from service.engine.catalog import FieldType
from service.engine.facts import MISSING, Facts, FactValue, _Missing, contains, value_of
from service.engine.model import AllOf, AnyOf, Condition, FieldRef, NotOf, Predicate

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
Evidence = Mapping[str, str]  # signal name -> "(pl) 'rozmawiać z kierownikiem'"


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
    checks: dict[str, Callable[[float, float], bool]] = {
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
    }
    return checks[op](left, right)


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


def describe(
    pred: Predicate, facts: Facts, types: Mapping[str, FieldType | None], evidence: Evidence
) -> str:
    """Render one predicate with the values observed."""
    left, right = _resolve(pred, facts, types)
    if pred.op == "exists":
        return f"{pred.field} is {'present' if pred.value else 'absent'}" + (
            f" ({_show(left)})" if not isinstance(left, _Missing) else ""
        )
    if pred.field == "signals" and pred.op == "contains" and isinstance(right, str):
        detail = evidence.get(right)
        return f"signal {right} {detail}" if detail else f"signals contains {right}"
    lhs = f"{pred.field} {_show(left)}"
    rhs = f"{pred.value.path} {_show(right)}" if isinstance(pred.value, FieldRef) else _show(right)
    return f"{lhs} {SYMBOL[pred.op]} {rhs}"


def explain(
    cond: Condition,
    facts: Facts,
    types: Mapping[str, FieldType | None],
    evidence: Evidence,
) -> str:
    """Render the parts of a condition that hold, joined the way they combine."""
    if isinstance(cond, Predicate):
        return describe(cond, facts, types, evidence)
    if isinstance(cond, NotOf):
        inner = cond.child
        if isinstance(inner, Predicate):
            return f"not ({describe(inner, facts, types, evidence)})"
        return f"not ({_render_all(inner, facts, types, evidence)})"
    parts: Sequence[Condition] = cond.children
    if isinstance(cond, AnyOf):
        parts = [child for child in cond.children if holds(child, facts, types)] or parts
        joiner = " or "
    else:
        joiner = " and "
    rendered = [explain(child, facts, types, evidence) for child in parts]
    return joiner.join(f"({r})" if " and " in r or " or " in r else r for r in rendered)


def _render_all(
    cond: Condition, facts: Facts, types: Mapping[str, FieldType | None], evidence: Evidence
) -> str:
    """Render every part of a condition (used under ``not``, where none hold)."""
    if isinstance(cond, Predicate):
        return describe(cond, facts, types, evidence)
    if isinstance(cond, NotOf):
        return f"not ({_render_all(cond.child, facts, types, evidence)})"
    joiner = " or " if isinstance(cond, AnyOf) else " and "
    return joiner.join(_render_all(child, facts, types, evidence) for child in cond.children)


__all__ = ["MISSING", "describe", "explain", "holds"]
