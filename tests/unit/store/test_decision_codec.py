"""Stored decisions: the storage codec, and the wire form the API makes of what it reads back."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from schemas.api import DecisionV1Schema
from service import decide
from service.cases.model import Snapshot
from service.policy import Policy
from service.store.codec import decision_from_json, decision_to_json
from tests.factories import decision_situations, event

SITUATIONS = {
    **decision_situations(),
    "nothing": (Snapshot(), "Hello"),
}
# What each situation shows: escalation statuses and held-back targets.
SHOWS = {
    "threat and demand": ([("legal", "new"), ("supervisor", "new")], []),
    "standing supervisor": ([("supervisor", "standing")], []),
    "held back by a cool-down": ([], ["supervisor"]),
    "nothing": ([], []),
}


@pytest.mark.parametrize("name", SITUATIONS)
def test_a_stored_decision_reads_back_to_the_same_wire_form(policy: Policy, name: str) -> None:
    snapshot, text = SITUATIONS[name]
    decision = decide.evaluate(policy, snapshot, event(text=text), case_id="C-1").decision
    wire = DecisionV1Schema().dump(decision)

    stored = json.loads(json.dumps(decision_to_json(decision)))

    assert (
        sorted((e["to"], e["status"]) for e in wire["escalations"]),
        [s["to"] for s in wire["suppressed"]],
    ) == SHOWS[name]

    assert stored == wire
    assert DecisionV1Schema().dump(decision_from_json(stored)) == wire
    assert DecisionV1Schema().dump(replace(decision_from_json(stored), duplicate=True)) == {
        **wire,
        "duplicate": True,
    }


def test_a_row_stored_before_escalations_had_a_status_reads_them_as_new(policy: Policy) -> None:
    decision = decide.evaluate(
        policy, Snapshot(), event(text="I want to speak to your manager."), case_id="C-1"
    ).decision
    legacy = DecisionV1Schema().dump(decision)
    for escalation in legacy["escalations"]:
        del escalation["status"]

    again = DecisionV1Schema().dump(decision_from_json(legacy))

    assert [e["status"] for e in again["escalations"]] == ["new"]
    assert {**again, "escalations": legacy["escalations"]} == legacy
    assert [{k: v for k, v in e.items() if k != "status"} for e in again["escalations"]] == (
        legacy["escalations"]
    )
