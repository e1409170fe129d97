"""Aggregates: each event updates the case and customer state in constant time."""

from __future__ import annotations

from datetime import timedelta

from service.cases.model import CaseState, CustomerState, Snapshot
from service.cases.reduce import apply_event
from tests.factories import WHEN, event


def test_customer_messages_and_signals_are_counted() -> None:
    after = apply_event(Snapshot(), event(), ["abuse", "legal_threat"])

    case = after.case
    assert (case.messages, case.abusive_messages, case.threats, case.legal_threats) == (1, 1, 1, 1)
    assert case.hostility == 3


def test_the_agent_assessment_of_hostility_wins() -> None:
    before = Snapshot(case=CaseState(hostility=6))
    after = apply_event(before, event(type="agent_note", attributes={"hostility": 2}), [])

    assert after.case.hostility == 2


def test_hostility_stays_within_0_and_10() -> None:
    before = Snapshot(case=CaseState(hostility=9))
    assert apply_event(before, event(), ["legal_threat", "abuse"]).case.hostility == 10


def test_live_conversation_time_accumulates_and_resets_on_a_new_agent() -> None:
    before = Snapshot(
        case=CaseState(current_agent="ag-1", last_event_at=WHEN, minutes_with_customer=5)
    )
    later = event(occurred_at=WHEN + timedelta(minutes=10))

    assert apply_event(before, later, []).case.minutes_with_customer == 15
    assert (
        apply_event(
            before, event(occurred_at=WHEN + timedelta(hours=3)), []
        ).case.minutes_with_customer
        == 5
    )
    assert apply_event(before, event(agent_id="ag-2"), []).case.minutes_with_customer == 0


def test_complaints_open_and_resolve_across_the_customer() -> None:
    before = Snapshot(
        case=CaseState(case_id="C-2"), customer=CustomerState(id="cus-1", unresolved_complaints=2)
    )
    opened = apply_event(before, event(type="complaint_opened"), [])
    assert (opened.case.open_complaints, opened.customer.unresolved_complaints) == (1, 3)
    assert [r.case_id for r in opened.customer.unresolved_complaint_refs] == ["C-2"]

    resolved = apply_event(opened, event(type="complaint_resolved"), [])
    assert (resolved.case.open_complaints, resolved.customer.unresolved_complaints) == (0, 2)
    assert resolved.customer.unresolved_complaint_refs == ()


def test_closing_and_reopening_a_case() -> None:
    closed = apply_event(Snapshot(), event(type="case_closed"), [])
    assert closed.case.status == "closed"
    assert apply_event(closed, event(), []).case.status == "open"
