"""Explanations: every matched rule says why, with the values observed."""

from __future__ import annotations

from service.engine.catalog import FieldType
from service.engine.explain import explain
from service.engine.model import AllOf, AnyOf, FieldRef, NotOf, Predicate

TYPES: dict[str, FieldType | None] = {}
FACTS = {
    "case.hostility": 4,
    "agent.limits.max_hostility": 3,
    "event.channel": "chat",
    "event.type": "customer_message",
    "signals": ("supervisor_demand",),
}
EVIDENCE = {"supervisor_demand": "(pl) matched 'rozmawiać z kierownikiem'"}


def test_a_field_reference_shows_both_values() -> None:
    why = explain(
        Predicate("case.hostility", "gte", FieldRef("agent.limits.max_hostility")),
        FACTS,
        TYPES,
        EVIDENCE,
    )

    assert why == "case.hostility 4 >= agent.limits.max_hostility 3"


def test_a_signal_shows_its_language_and_evidence() -> None:
    why = explain(Predicate("signals", "contains", "supervisor_demand"), FACTS, TYPES, EVIDENCE)

    assert why == "signal supervisor_demand (pl) matched 'rozmawiać z kierownikiem'"


def test_any_shows_only_the_alternatives_that_held() -> None:
    cond = AnyOf(
        (
            Predicate("event.channel", "eq", "email"),
            Predicate("event.channel", "in", ("chat", "phone")),
        )
    )

    assert explain(cond, FACTS, TYPES, EVIDENCE) == "event.channel chat in [chat, phone]"


def test_all_and_not_render_every_part() -> None:
    cond = AllOf(
        (
            Predicate("event.type", "eq", "customer_message"),
            NotOf(Predicate("event.channel", "eq", "email")),
        )
    )

    assert explain(cond, FACTS, TYPES, EVIDENCE) == (
        "event.type customer_message = customer_message and not (event.channel chat = email)"
    )


def test_an_absent_field_is_said_to_be_absent() -> None:
    assert (
        explain(Predicate("event.language", "exists", False), FACTS, TYPES, EVIDENCE)
        == "event.language is absent"
    )
