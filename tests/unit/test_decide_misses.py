"""evaluate(explain_misses=True): every rule that did not match, with the condition that failed."""

from __future__ import annotations

from service.cases.model import AgentProfile, Snapshot
from service.decide import evaluate
from service.engine.model import AgentLimits
from service.policy import Policy
from tests.factories import WHEN, event

AGENT = AgentProfile(
    id="ag-1", limits=AgentLimits(max_complexity=3, max_hostility=3, max_minutes=45)
)


def test_without_asking_no_rule_is_explained_as_a_miss(policy: Policy) -> None:
    decision = evaluate(
        policy, Snapshot(agent=AGENT), event(attributes={"complexity": 3}), case_id=None, now=WHEN
    ).decision

    assert decision.not_matched == ()


def test_every_rule_either_matched_or_is_a_miss_in_file_order(policy: Policy) -> None:
    decision = evaluate(
        policy,
        Snapshot(agent=AGENT),
        event(text="Get me your manager, you idiot!", attributes={"complexity": 3}),
        case_id=None,
        now=WHEN,
        explain_misses=True,
    ).decision

    matched = [m.rule.id for m in decision.matched]
    missed = [m.rule.id for m in decision.not_matched]
    assert matched, "the event should match some rules"
    assert not set(matched) & set(missed)
    assert sorted(matched + missed) == sorted(r.id for r in policy.ruleset.rules)
    order = [r.id for r in policy.ruleset.rules]
    assert missed == sorted(missed, key=order.index)


def test_a_rule_missed_by_one_names_the_condition_and_the_value(policy: Policy) -> None:
    decision = evaluate(
        policy,
        Snapshot(agent=AGENT),
        event(attributes={"complexity": 3}),
        case_id=None,
        now=WHEN,
        explain_misses=True,
    ).decision

    (miss,) = [m for m in decision.not_matched if m.rule.id == "complexity-over-agent-limit"]
    assert miss.failed.condition == "case.complexity 3 > agent.limits.max_complexity 3: false"
    assert (miss.failed.field, miss.failed.observed) == ("case.complexity", 3)


def test_asking_does_not_change_the_decision(policy: Policy) -> None:
    snapshot, ev = Snapshot(agent=AGENT), event(text="I will sue you", attributes={"complexity": 5})
    plain = evaluate(policy, snapshot, ev, case_id="C-1", now=WHEN)
    explained = evaluate(policy, snapshot, ev, case_id="C-1", now=WHEN, explain_misses=True)

    def essentials(d: object) -> tuple[object, ...]:
        return tuple(
            getattr(d, name)
            for name in ("outcome", "escalations", "route_to", "priority", "guidance", "matched")
        )

    assert essentials(plain.decision) == essentials(explained.decision)
    assert plain.after == explained.after
