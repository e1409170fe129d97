"""Why a rule did not match: the first failing condition, with the value it saw."""

from __future__ import annotations

from service.engine.catalog import FieldType
from service.engine.explain import ABSENT, first_failure
from service.engine.model import AllOf, AnyOf, FieldRef, NotOf, Predicate

TYPES: dict[str, FieldType | None] = {}
FACTS = {
    "case.complexity": 3,
    "case.hostility": 4,
    "agent.limits.max_complexity": 3,
    "agent.limits.max_hostility": 3,
    "event.channel": "chat",
    "event.type": "customer_message",
    "event.text": "Get me your manager, you idiot!",
    "event.attributes.limit": "complexity",
    "customer.flags": ("vip",),
    "signals": ("abuse",),
}
TEXT = str(FACTS["event.text"])


def test_a_condition_that_holds_has_no_failure() -> None:
    cond = AllOf(
        (
            Predicate("case.hostility", "gt", FieldRef("agent.limits.max_hostility")),
            Predicate("event.channel", "eq", "chat"),
        )
    )

    assert first_failure(cond, FACTS, TYPES) is None


def test_a_field_reference_that_misses_by_one_shows_both_values() -> None:
    failure = first_failure(
        Predicate("case.complexity", "gt", FieldRef("agent.limits.max_complexity")), FACTS, TYPES
    )

    assert failure is not None
    assert failure.condition == "case.complexity 3 > agent.limits.max_complexity 3: false"
    assert (failure.field, failure.observed) == ("case.complexity", 3)


def test_all_reports_its_first_failing_child_in_file_order_descending_into_it() -> None:
    cond = AllOf(
        (
            Predicate("event.type", "eq", "customer_message"),
            AllOf(
                (
                    Predicate("event.channel", "eq", "chat"),
                    Predicate("case.hostility", "lt", 2),
                )
            ),
            Predicate("event.channel", "eq", "email"),
        )
    )

    failure = first_failure(cond, FACTS, TYPES)

    assert failure is not None
    assert failure.condition == "case.hostility 4 < 2: false"
    assert (failure.field, failure.observed, failure.alternatives) == ("case.hostility", 4, ())


def test_any_reports_every_alternatives_first_failure_joined_by_or() -> None:
    cond = AnyOf(
        (
            Predicate("signals", "contains", "supervisor_demand"),
            AllOf((Predicate("event.channel", "eq", "chat"), Predicate("case.threats", "gte", 1))),
        )
    )

    failure = first_failure(cond, FACTS, TYPES)

    assert failure is not None
    assert failure.condition == (
        "signals [abuse] contains supervisor_demand: false or case.threats (absent) >= 1: false"
    )
    assert [(a.field, a.observed) for a in failure.alternatives] == [
        ("signals", ("abuse",)),
        ("case.threats", ABSENT),
    ]
    # The structured value is the first alternative's.
    assert (failure.field, failure.observed) == ("signals", ("abuse",))


def test_any_with_one_alternative_holding_has_no_failure() -> None:
    cond = AnyOf(
        (Predicate("event.channel", "eq", "email"), Predicate("event.channel", "eq", "chat"))
    )

    assert first_failure(cond, FACTS, TYPES) is None


def test_not_reports_the_inner_condition_that_held() -> None:
    cond = AllOf(
        (
            Predicate("event.type", "eq", "customer_message"),
            NotOf(Predicate("event.attributes.limit", "eq", "complexity")),
        )
    )

    failure = first_failure(cond, FACTS, TYPES)

    assert failure is not None
    assert failure.condition == "not (event.attributes.limit complexity = complexity): false"
    assert (failure.field, failure.observed) == ("event.attributes.limit", "complexity")


def test_not_over_any_observes_the_alternative_that_held() -> None:
    cond = NotOf(
        AnyOf((Predicate("event.channel", "eq", "email"), Predicate("case.hostility", "gte", 4)))
    )

    failure = first_failure(cond, FACTS, TYPES)

    assert failure is not None
    assert failure.condition == ("not (event.channel chat = email or case.hostility 4 >= 4): false")
    assert (failure.field, failure.observed) == ("case.hostility", 4)


def test_a_not_that_holds_has_no_failure() -> None:
    assert first_failure(NotOf(Predicate("event.channel", "eq", "email")), FACTS, TYPES) is None


def test_a_missing_field_is_observed_as_absent() -> None:
    failure = first_failure(Predicate("event.language", "in", ("pl", "en")), FACTS, TYPES)

    assert failure is not None
    assert failure.condition == "event.language (absent) in [pl, en]: false"
    assert failure.observed == ABSENT


def test_exists_shows_the_value_that_was_there_or_its_absence() -> None:
    present = first_failure(Predicate("event.channel", "exists", False), FACTS, TYPES)
    absent = first_failure(Predicate("case.topic", "exists", True), FACTS, TYPES)

    assert present is not None
    assert absent is not None
    assert present.condition == "event.channel chat is absent: false"
    assert absent.condition == "case.topic (absent) is present: false"
    assert (present.observed, absent.observed) == ("chat", ABSENT)


def test_a_missing_right_hand_field_is_shown_absent() -> None:
    failure = first_failure(
        Predicate("case.hostility", "gte", FieldRef("event.attributes.threshold")), FACTS, TYPES
    )

    assert failure is not None
    assert failure.condition == "case.hostility 4 >= event.attributes.threshold (absent): false"
    assert failure.observed == 4


def test_a_value_of_the_wrong_type_is_shown_as_such_not_as_absent() -> None:
    failure = first_failure(
        Predicate("event.attributes.vip", "eq", True),
        {**FACTS, "event.attributes.vip": "yes"},
        {"event.attributes.vip": FieldType.BOOL},
    )

    assert failure is not None
    # The wrong value may be text a customer wrote: only its length shows (docs/masking.md).
    assert failure.condition == (
        "event.attributes.vip (wrong type: (text, 3 characters)) = true: false"
    )


def test_a_missing_signal_shows_the_signals_that_were_detected() -> None:
    failure = first_failure(Predicate("signals", "contains", "legal_threat"), FACTS, TYPES)

    assert failure is not None
    assert failure.condition == "signals [abuse] contains legal_threat: false"
    assert failure.observed == ("abuse",)


def test_message_text_is_never_shown_only_its_length() -> None:
    on_left = first_failure(Predicate("event.text", "contains", "kierownik"), FACTS, TYPES)
    on_right = first_failure(Predicate("event.channel", "eq", FieldRef("event.text")), FACTS, TYPES)
    under_not = first_failure(NotOf(Predicate("event.text", "contains", "idiot")), FACTS, TYPES)

    assert on_left is not None
    assert on_right is not None
    assert under_not is not None
    length = f"(text, {len(TEXT)} characters)"
    assert on_left.condition == f"event.text {length} contains kierownik: false"
    assert on_right.condition == f"event.channel chat = event.text {length}: false"
    assert under_not.condition == f"not (event.text {length} contains idiot): false"
    assert on_left.observed == under_not.observed == length
    for failure in (on_left, on_right, under_not):
        assert "manager" not in failure.condition


def test_an_empty_any_fails_without_a_field() -> None:
    failure = first_failure(AnyOf(()), FACTS, TYPES)

    assert failure is not None
    assert (failure.field, failure.observed) == (None, ABSENT)
    assert failure.condition.endswith(": false")
