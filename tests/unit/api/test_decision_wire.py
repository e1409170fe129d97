"""decision_wire and explained_wire: the dicts the decision schemas dump, written directly."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from schemas.api import DecisionV1Schema, ExplainedDecisionV1Schema
from service import decide
from service.api.wire import decision_wire, explained_wire
from service.cases.model import Snapshot
from service.policy import Policy
from service.store.codec import decision_from_json, decision_to_json
from tests.factories import decision_situations, event

SITUATIONS = {
    **decision_situations(),
    "negated": (Snapshot(), "I will not sue you, I only want my parcel."),
    "no text": (Snapshot(), None),
}
DECISION_V1 = DecisionV1Schema()
EXPLAINED_V1 = ExplainedDecisionV1Schema()


def decisions(policy: Policy) -> list[decide.Decision]:
    """Return a decision of each situation, explained, as decide makes them."""
    return [
        decide.evaluate(
            policy, snapshot, event(text=text), case_id="C-1", explain_misses=True
        ).decision
        for snapshot, text in SITUATIONS.values()
    ]


@pytest.mark.parametrize("name", SITUATIONS)
def test_the_wire_form_is_what_the_schemas_dump(policy: Policy, name: str) -> None:
    decision = decisions(policy)[list(SITUATIONS).index(name)]
    timer = {"id": "first-reply", "state": "breached", "due_at": "2026-11-22T10:00:00+00:00"}
    shapes = [
        decision,
        replace(decision, duplicate=True, trigger="timer", timer=timer, case_id=None),
        replace(decision, route_to="billing", duration_ms=3),
    ]

    for shape in shapes:
        assert decision_wire(shape) == DECISION_V1.dump(shape)
        assert explained_wire(shape) == EXPLAINED_V1.dump(shape)
        # The same keys in the same order: the JSON answer reads alike.
        assert json.dumps(explained_wire(shape)) == json.dumps(EXPLAINED_V1.dump(shape))


def test_a_stored_decision_has_the_same_wire_form(policy: Policy) -> None:
    for decision in decisions(policy):
        stored = decision_from_json(json.loads(json.dumps(decision_to_json(decision))))

        assert decision_wire(stored) == DECISION_V1.dump(stored) == DECISION_V1.dump(decision)


def test_the_situations_fill_every_part_of_the_wire_form(policy: Policy) -> None:
    # Empty lists everywhere would prove little: every part is shown somewhere.
    wires = [explained_wire(d) for d in decisions(policy)]
    parts = (
        "escalations",
        "actions",
        "guidance",
        "matched_rules",
        "signals",
        "suppressed",
        "not_matched",
        "cancelled_signals",
    )

    assert {part for part in parts if any(w[part] for w in wires)} == set(parts)
    assert {e["status"] for w in wires for e in w["escalations"]} == {"new", "standing"}
