"""Property tests: the durable-rules path decides exactly like the reference evaluator.

Hypothesis generates valid rule sets (nested all / any / not over every
operator, literals and field references, always-present and optional fields,
open attributes) and fact views (missing values, values of the wrong type,
Unicode text), compiles each rule set once and checks every fact view.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from service.engine.compiler import CompileError, compile_ruleset
from service.engine.durable_backend import DurableEngine
from service.engine.explain import holds
from service.engine.model import AllOf, AnyOf, Condition, FieldRef, NotOf, Predicate, Rule
from tests.factories import rule, ruleset
from tests.support import reference

# field -> (type name, always present, sample literals)
FIELDS: dict[str, tuple[str, bool, list[Any]]] = {
    "case.hostility": ("number", True, [0, 1, 2, 3, 4]),
    "case.threats": ("number", True, [0, 1, 2]),
    "agent.limits.max_hostility": ("number", True, [2, 3]),
    "event.attributes.complexity": ("number", False, [0, 2.5, 3, 7]),
    "event.attributes.score": ("number", False, [-1, 0, 1.5, 10]),
    "event.type": ("string", True, ["customer_message", "agent_note", "complaint_opened"]),
    "event.channel": ("string", False, ["chat", "email", "phone"]),
    "event.attributes.topic": ("string", False, ["billing", "tax", "Żółć", 'a"b']),
    "event.text": ("string", False, ["aba", "KIEROWNIK", "żółć", "manager"]),
    "event.attributes.vip": ("boolean", False, [True, False]),
    "customer.flags": ("list", True, ["abusive", "vip"]),
    "agent.skills": ("list", True, ["billing", "tax"]),
}
OPEN = {"event.attributes.score", "event.attributes.vip"}  # not in the catalogue


def kinds_for(rules: list[Rule]) -> dict[str, str | None]:
    """Type each field as documented: an open attribute takes the type it is compared
    with, and accepts any scalar when it is only tested with exists."""
    compared: set[str] = set()

    def walk(cond: Condition) -> None:
        if isinstance(cond, Predicate):
            if cond.op != "exists":
                compared.add(cond.field)
                if isinstance(cond.value, FieldRef):
                    compared.add(cond.value.path)
        elif isinstance(cond, NotOf):
            walk(cond.child)
        else:
            for child in cond.children:
                walk(child)

    for r in rules:
        walk(r.when)
    return {
        name: (None if name in OPEN and name not in compared else spec[0])
        for name, spec in FIELDS.items()
    }


OPERATORS = {
    "number": ["eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "exists"],
    "string": ["eq", "ne", "in", "not_in", "exists", "contains"],
    "boolean": ["eq", "ne", "exists"],
    "list": ["contains", "exists"],
}
TEXTS = ["", "xabab", "Kierownikiem!", "ŻÓŁĆ i gęś", "manager", "billing", "tax", 'a"b', "Żółć"]


@st.composite
def predicates(draw: st.DrawFn) -> Predicate:
    name = draw(st.sampled_from(sorted(FIELDS)))
    kind, _, samples = FIELDS[name]
    op = draw(st.sampled_from(OPERATORS[kind]))
    if op == "exists":
        return Predicate(name, op, draw(st.booleans()))
    if op in ("in", "not_in"):
        values = draw(st.lists(st.sampled_from(samples), min_size=1, max_size=3, unique=True))
        return Predicate(name, op, tuple(values))
    if op == "contains":
        strings = sorted(n for n, spec in FIELDS.items() if spec[0] == "string")
        if draw(st.booleans()):
            return Predicate(name, op, FieldRef(draw(st.sampled_from(strings))))
        needle_pool = (
            FIELDS["customer.flags"][2] + FIELDS["agent.skills"][2] if kind == "list" else samples
        )
        return Predicate(name, op, draw(st.sampled_from(needle_pool)))
    same_kind = sorted(n for n, spec in FIELDS.items() if spec[0] == kind and n != name)
    if (
        kind in ("number", "string")
        and op in ("eq", "ne", "lt", "lte", "gt", "gte")
        and draw(st.integers(0, 3)) == 0
    ):
        if kind == "string" and op not in ("eq", "ne"):
            return Predicate(name, "eq", draw(st.sampled_from(samples)))
        return Predicate(name, op, FieldRef(draw(st.sampled_from(same_kind))))
    if kind == "string" and op not in ("eq", "ne"):
        op = "eq"
    return Predicate(name, op, draw(st.sampled_from(samples)))


def conditions(depth: int = 3) -> st.SearchStrategy[Condition]:
    return st.recursive(
        predicates(),
        lambda children: st.one_of(
            st.lists(children, min_size=1, max_size=3).map(lambda cs: AllOf(tuple(cs))),
            st.lists(children, min_size=1, max_size=3).map(lambda cs: AnyOf(tuple(cs))),
            children.map(NotOf),
        ),
        max_leaves=6,
    )


@st.composite
def rulesets(draw: st.DrawFn) -> list[Rule]:
    conds = draw(st.lists(conditions(), min_size=1, max_size=8))
    return [rule(f"r{i}", cond) for i, cond in enumerate(conds)]


@st.composite
def fact_views(draw: st.DrawFn) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for name, (kind, always, samples) in FIELDS.items():
        if kind == "list":
            facts[name] = tuple(
                draw(st.lists(st.sampled_from(["abusive", "vip", "billing", "tax"]), unique=True))
            )
            continue
        if not always and draw(st.integers(0, 3)) == 0:
            continue  # missing
        pool = TEXTS if name == "event.text" else samples
        value = draw(st.sampled_from(pool))
        if not always and draw(st.integers(0, 9)) == 0:
            value = draw(st.sampled_from(["3", True, 1, None, 2.5]))  # wrong type, or null
        facts[name] = value
    return facts


@pytest.mark.slow
@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(rules=rulesets(), views=st.lists(fact_views(), min_size=10, max_size=10))
def test_durable_path_matches_the_reference_evaluator(
    rules: list[Rule], views: list[dict[str, Any]]
) -> None:
    try:
        compiled = compile_ruleset(ruleset(*rules))
    except CompileError:
        assume(False)
    kinds = kinds_for(rules)
    engine = DurableEngine(compiled)
    try:
        for facts in views:
            expected = {r.id for r in rules if reference.evaluate(r.when, facts, kinds)}
            assert engine.match(facts) == expected, facts
            # The explainer's reading of the rules agrees too.
            assert {r.id for r in rules if holds(r.when, facts, compiled.field_types)} == expected
    finally:
        engine.close()


@pytest.mark.slow
@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(
    rules=rulesets(),
    views=st.lists(fact_views(), min_size=10, max_size=10),
    size=st.integers(2, 4),
)
def test_partitioned_rule_sets_match_the_reference_evaluator(
    rules: list[Rule], views: list[dict[str, Any]], size: int
) -> None:
    # Partitions of two to four engine rules: every set of more than one rule is
    # split, routed by its most tested field, and the union must still be exact.
    try:
        compiled = compile_ruleset(ruleset(*rules), partition_size=size)
    except CompileError:
        assume(False)
    kinds = kinds_for(rules)
    engine = DurableEngine(compiled)
    try:
        for facts in views:
            expected = {r.id for r in rules if reference.evaluate(r.when, facts, kinds)}
            assert engine.match(facts) == expected, (facts, compiled.route_key)
    finally:
        engine.close()
