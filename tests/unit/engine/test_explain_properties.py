"""Property tests: a condition has a failure exactly when ``holds`` says it is false.

Reuses the rule and fact generators of the engine property tests (nested all /
any / not over every operator, field references, missing and mistyped values).
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.engine.compiler import field_types, iter_predicates
from service.engine.explain import ABSENT, first_failure, holds
from service.engine.model import Condition, FieldRef
from tests.factories import rule, ruleset
from tests.unit.engine.test_properties import conditions, fact_views

# After "event.text " only a stand-in may follow, never the words.
TEXT_SHOWN = re.compile(r"event\.text (?!\(text, \d+ characters\)|\(absent\))")


def fields_read(cond: Condition) -> set[str]:
    read: set[str] = set()
    for pred in iter_predicates(cond):
        read.add(pred.field)
        if isinstance(pred.value, FieldRef):
            read.add(pred.value.path)
    return read


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cond=conditions(), views=st.lists(fact_views(), min_size=5, max_size=5))
def test_a_failure_is_found_exactly_when_the_condition_does_not_hold(
    cond: Condition, views: list[dict[str, Any]]
) -> None:
    types = field_types(ruleset(rule("r", cond)))
    for facts in views:
        failure = first_failure(cond, facts, types)

        assert (failure is None) == holds(cond, facts, types), facts
        if failure is None:
            continue
        assert failure.condition.endswith(": false")
        assert failure.field is None or failure.field in fields_read(cond)
        assert TEXT_SHOWN.search(failure.condition) is None, failure.condition
        if failure.field == "event.text":
            assert failure.observed == ABSENT or str(failure.observed).startswith("(text, ")
        for alternative in failure.alternatives:
            assert alternative.condition in failure.condition
