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


def test_message_text_shows_only_its_length_even_where_a_rule_reads_it() -> None:
    facts = {**FACTS, "event.text": "refund now or I post your home address"}

    why = explain(Predicate("event.text", "contains", "refund"), facts, TYPES, EVIDENCE)

    assert why == "event.text (text, 38 characters) contains refund"


def test_attribute_values_show_only_when_the_rules_read_them_as_plain_data() -> None:
    from service.masking import Readable

    facts = {**FACTS, "event.attributes.note": "call 555-0100", "event.attributes.total": 250}
    readable = Readable(numbers=frozenset({"total"}))
    cond = AllOf(
        (
            Predicate("event.attributes.note", "exists", True),
            Predicate("event.attributes.total", "gte", 100),
            Predicate("case.hostility", "gte", FieldRef("event.attributes.note")),
        )
    )

    why = explain(cond, facts, TYPES, EVIDENCE, readable)

    assert "555" not in why
    assert "event.attributes.note is present ((text, 13 characters))" in why
    assert "event.attributes.total 250 >= 100" in why
