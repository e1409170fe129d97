"""Standing escalations, cool-downs, customer memory: the state a decision and an event change."""

from __future__ import annotations

from datetime import timedelta

from service.cases.escalations import (
    NEW,
    STANDING,
    Raised,
    announcing,
    apply_decision,
    flag_customer,
    sort_escalations,
)
from service.cases.model import CaseState, CustomerState, Escalated, Snapshot, ThreatMark
from service.cases.reduce import THREAT_MEMORY, apply_event, threats_within
from tests.factories import WHEN, event

OPEN = Escalated(at=WHEN - timedelta(hours=5), severity=3, rule="complexity-over-agent-limit")


def test_an_escalation_to_a_target_already_open_stands_unless_more_severe() -> None:
    case = CaseState(open_escalations={"specialist": OPEN})

    same = sort_escalations(case, [Raised("specialist", 3, "r")], {}, WHEN)
    lower = sort_escalations(case, [Raised("specialist", 1, "r")], {}, WHEN)
    higher = sort_escalations(case, [Raised("specialist", 5, "r")], {}, WHEN)
    other = sort_escalations(case, [Raised("supervisor", 3, "r")], {}, WHEN)

    assert same.status == {"specialist": STANDING}
    assert lower.status == {"specialist": STANDING}
    assert higher.status == {"specialist": NEW}
    assert other.status == {"supervisor": NEW}


def test_a_cool_down_holds_back_a_closed_escalation_raised_again_within_its_window() -> None:
    last = Escalated(at=WHEN - timedelta(minutes=20), severity=3, rule="r")
    case = CaseState(last_escalations={"supervisor": last})

    held = sort_escalations(case, [Raised("supervisor", 3, "r")], {"supervisor": 60}, WHEN)
    later = sort_escalations(case, [Raised("supervisor", 3, "r")], {"supervisor": 15}, WHEN)
    severer = sort_escalations(case, [Raised("supervisor", 5, "r")], {"supervisor": 60}, WHEN)

    assert (held.status, held.held_until) == ({}, {"supervisor": last.at + timedelta(hours=1)})
    assert later.status == {"supervisor": NEW}
    assert severer.status == {"supervisor": NEW}


def test_notifications_of_escalations_that_are_not_new_are_not_sent_again() -> None:
    actions = [
        {"type": "notify", "target": "supervisor-on-duty", "rule": "demand"},
        {"type": "notify", "target": "legal-team", "rule": "threat"},
        {"type": "flag_customer", "flag": "abusive", "rule": "demand"},
        {"type": "notify", "target": "team-lead", "rule": "no-escalation"},
    ]
    targets = {"demand": ["supervisor"], "threat": ["legal"], "no-escalation": []}

    kept = announcing(actions, targets, frozenset({"legal"}))

    assert [a["target"] if "target" in a else a["type"] for a in kept] == [
        "legal-team",
        "flag_customer",
        "team-lead",
    ]


def test_a_decision_opens_its_new_escalations_and_counts_one_for_the_customer() -> None:
    before = Snapshot(
        case=CaseState(case_id="C-1", open_escalations={"specialist": OPEN}),
        customer=CustomerState(
            id="cus-1", escalations_30d=1, escalated_at=(WHEN - timedelta(days=40),)
        ),
    )

    after = apply_decision(before, [Raised("supervisor", 5, "demand")], [], WHEN)
    unchanged = apply_decision(before, [], [], WHEN)

    assert sorted(after.case.open_escalations) == ["specialist", "supervisor"]
    assert after.case.last_escalations["supervisor"] == Escalated(WHEN, 5, "demand")
    assert after.customer.escalations_30d == 2
    assert after.customer.escalated_at == (WHEN,)  # the 40-day-old one is forgotten
    assert unchanged == before


def test_flagging_records_the_reason_with_the_case_and_date() -> None:
    customer = flag_customer(
        CustomerState(id="cus-1"),
        [{"type": "flag_customer", "flag": "abusive", "reason": "repeated abuse"}],
        "C-1",
        WHEN,
    )

    assert customer.flags == ("abusive",)
    assert customer.flag_reasons == {"abusive": "repeated abuse (case C-1, 2026-11-22)"}


def test_closing_events_close_one_target_or_all() -> None:
    open_ = {"specialist": OPEN, "supervisor": OPEN}
    before = Snapshot(case=CaseState(case_id="C-1", open_escalations=open_))

    def after(type_: str, **attributes: str) -> list[str]:
        result = apply_event(before, event(type=type_, attributes=attributes), [])
        return sorted(result.case.open_escalations)

    assert after("escalation_accepted", target="supervisor") == ["specialist"]
    assert after("escalation_resolved", target="specialist") == ["supervisor"]
    assert after("case_assigned", target="specialist") == ["supervisor"]
    assert after("case_assigned") == ["specialist", "supervisor"]
    assert after("customer_message", target="supervisor") == ["specialist", "supervisor"]
    assert after("case_closed") == []


def test_threats_are_remembered_per_customer_for_ninety_days() -> None:
    old = ThreatMark(WHEN - THREAT_MEMORY - timedelta(days=1), "legal", "C-0")
    recent = ThreatMark(WHEN - timedelta(days=10), "physical", "C-1")
    before = Snapshot(
        case=CaseState(case_id="C-2"), customer=CustomerState(id="cus-1", threats=(old, recent))
    )
    now = event()

    after = apply_event(before, now, ["legal_threat"])

    assert after.customer.threats == (recent, ThreatMark(WHEN, "legal", "C-2"))
    assert threats_within(after.customer, now) == 2
    assert threats_within(after.customer, now, "legal") == 1
    assert threats_within(after.customer, now, "physical") == 1
    assert threats_within(before.customer, now) == 1
