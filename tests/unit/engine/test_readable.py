"""Which attribute values a rule set reads as plain data: numbers, booleans, enumerations."""

from __future__ import annotations

from service.engine.model import AllOf, AnyOf, FieldRef, NotOf, Predicate
from service.engine.readable import CATALOGUE, readable_of
from service.policy import Policy
from tests.factories import rule, ruleset


def test_the_catalogue_alone_reads_its_numbers_and_choices() -> None:
    assert CATALOGUE.shows("complexity", 4)
    assert CATALOGUE.shows("handling_minutes", 12.5)
    assert CATALOGUE.shows("limit", "hostility")
    assert CATALOGUE.shows("timer_state", "breached")
    assert not CATALOGUE.shows("limit", "my manager")
    # topic and target are catalogued as text: any string may be there.
    assert not CATALOGUE.shows("topic", "billing")
    assert not CATALOGUE.shows("target", "supervisor")


def test_rules_make_an_open_attribute_a_number_or_an_enumeration_of_their_literals() -> None:
    rules = ruleset(
        rule(
            "r1",
            AllOf(
                (
                    Predicate("event.attributes.order_total", "gte", 100),
                    Predicate("event.attributes.vip", "eq", True),
                    AnyOf((Predicate("event.attributes.topic", "in", ("billing", "refunds")),)),
                    NotOf(Predicate("event.attributes.region", "ne", "eu")),
                )
            ),
        ),
        rule("r2", Predicate("event.attributes.topic", "eq", "returns")),
    )

    readable = readable_of(rules)

    assert readable.shows("order_total", 250)
    assert not readable.shows("order_total", "250")
    assert readable.shows("vip", False)
    assert {v for v in ("billing", "refunds", "returns", "other") if readable.shows("topic", v)} == {
        "billing",
        "refunds",
        "returns",
    }
    assert readable.shows("region", "eu")
    assert not readable.shows("region", "us")


def test_attributes_read_only_by_presence_containment_or_another_field_stay_masked() -> None:
    rules = ruleset(
        rule("r1", Predicate("event.attributes.note", "exists", True)),
        rule("r2", Predicate("event.attributes.subject", "contains", "refund")),
        rule("r3", Predicate("event.attributes.owner", "eq", FieldRef("agent.id"))),
    )

    readable = readable_of(rules)

    assert not readable.shows("note", "anything")
    assert not readable.shows("subject", "refund")
    assert not readable.shows("owner", "ag-1")


def test_the_bundled_rules_read_the_limit_as_an_enumeration(policy: Policy) -> None:
    assert policy.readable.shows("limit", "complexity")
    assert policy.readable.shows("complexity", 3)
    assert not policy.readable.shows("callback_at", "2026-11-30T10:00:00Z")
