"""The merge policy: how every matching rule's result becomes one decision."""

from __future__ import annotations

from service.engine.merge import Match, merge
from service.engine.model import Action, Escalation, Predicate, Then
from tests.factories import rule

TRUE = Predicate("case.hostility", "gte", 0)


def m(rule_id: str, then: Then, priority: int = 50, safety: bool = False) -> Match:
    return Match(rule(rule_id, TRUE, then, priority=priority, safety=safety), why="because")


def lookup(name: str) -> str:
    return {"case.hostility": "4"}.get(name, "?")


def test_the_highest_priority_rule_decides_route_and_priority() -> None:
    merged = merge(
        [
            m("low", Then(route_to="general", priority="low"), priority=10),
            m("high", Then(route_to="complaints", priority="high"), priority=60),
        ],
        lookup,
    )

    assert (merged.route_to, merged.priority) == ("complaints", "high")
    assert [x.rule.id for x in merged.matched] == ["high", "low"]


def test_a_safety_rule_outranks_any_priority() -> None:
    merged = merge(
        [
            m("business", Then(route_to="sales", priority="low"), priority=1000),
            m("threat", Then(route_to="security", priority="urgent"), priority=1, safety=True),
        ],
        lookup,
    )

    assert (merged.route_to, merged.priority) == ("security", "urgent")


def test_escalations_actions_and_guidance_are_unioned_and_deduplicated() -> None:
    notify = Action("notify", (("target", "legal-team"),))
    merged = merge(
        [
            m(
                "a",
                Then(
                    escalate=(Escalation("legal", "notify"),), actions=(notify,), guidance=("calm",)
                ),
            ),
            m(
                "b",
                Then(
                    escalate=(Escalation("supervisor"),),
                    actions=(notify,),
                    guidance=("calm", "listen"),
                ),
            ),
        ],
        lookup,
    )

    assert [(e.to, e.mode) for e in merged.escalations] == [
        ("legal", "notify"),
        ("supervisor", "handover"),
    ]
    assert merged.actions == ({"type": "notify", "target": "legal-team", "rule": "a"},)
    assert merged.guidance == ("calm", "listen")
    assert merged.outcome == "escalate"


def test_handover_wins_over_notify_for_one_target() -> None:
    merged = merge(
        [
            m("report", Then(escalate=(Escalation("legal", "notify"),)), priority=80, safety=True),
            m("lead", Then(escalate=(Escalation("legal", "handover"),)), priority=90),
        ],
        lookup,
    )

    (legal,) = merged.escalations
    assert (legal.mode, legal.rule) == ("handover", "report")


def test_nothing_a_safety_rule_asks_for_is_dropped() -> None:
    merged = merge(
        [
            m(
                "threat",
                Then(escalate=(Escalation("security", "notify"),), guidance=("stay safe",)),
                safety=True,
            ),
            m("vip", Then(route_to="vip", priority="high", guidance=("be nice",)), priority=999),
        ],
        lookup,
    )

    assert "security" in [e.to for e in merged.escalations]
    assert "stay safe" in merged.guidance


def test_outcome_is_route_without_escalation_and_none_without_route() -> None:
    assert merge([m("r", Then(route_to="complaints"))], lookup).outcome == "route"
    assert merge([m("g", Then(guidance=("hi",)))], lookup).outcome == "none"
    assert merge([], lookup).outcome == "none"


def test_placeholders_are_filled_from_the_facts() -> None:
    merged = merge([m("g", Then(guidance=("Hostility is {case.hostility}.",)))], lookup)

    assert merged.guidance == ("Hostility is 4.",)
