"""Apply one event to a case's state: the aggregates rules read.

A pure function, shared by the stateless dry run and the stateful events
endpoint, so both decide the same way.  Aggregates include the event being
evaluated: on the third complaint, ``customer.unresolved_complaints`` is 3.
Each update costs the same however long the case's history is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import timedelta

from service.cases.model import (
    ComplaintRef,
    CustomerState,
    Escalated,
    Event,
    Snapshot,
    ThreatMark,
)
from service.engine.catalog import LIVE_CHANNELS

MAX_LEVEL = 10
# Consecutive live-channel events closer than this count as one conversation.
LIVE_GAP_MINUTES = 15
HOSTILITY_PER_SIGNAL = {"abuse": 1, "legal_threat": 2, "physical_threat": 2}
# How long a customer's threats are remembered across cases (customer.*threats_90d).
THREAT_MEMORY = timedelta(days=90)
THREAT_KINDS = {"legal_threat": "legal", "physical_threat": "physical"}
# Events that close the standing escalation to ``attributes.target``.
CLOSING_EVENTS = frozenset({"escalation_accepted", "escalation_resolved", "case_assigned"})


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _level(value: float) -> int:
    return int(max(0, min(MAX_LEVEL, round(value))))


def apply_event(snapshot: Snapshot, event: Event, signals: Iterable[str]) -> Snapshot:
    """Return the snapshot after ``event``, whose text carried ``signals``."""
    if event.type == "deadline_reached":
        return snapshot  # a timer falling due is not something the customer or agent did
    case, customer = snapshot.case, snapshot.customer
    names = set(signals)
    attrs = event.attributes

    status = "closed" if event.type == "case_closed" else "open"
    hostility = case.hostility + sum(HOSTILITY_PER_SIGNAL.get(name, 0) for name in names)
    reported_hostility = _number(attrs.get("hostility"))
    if reported_hostility is not None:
        hostility = _level(reported_hostility)  # the agent's own assessment wins
    reported_complexity = _number(attrs.get("complexity"))

    agent_changed = event.agent_id is not None and event.agent_id != case.current_agent
    minutes = 0.0 if agent_changed else case.minutes_with_customer
    handling = _number(attrs.get("handling_minutes"))
    if handling is not None:
        minutes += max(0.0, handling)
    elif (
        not agent_changed
        and event.channel in LIVE_CHANNELS
        and case.last_event_at is not None
        and event.occurred_at > case.last_event_at
    ):
        gap = (event.occurred_at - case.last_event_at).total_seconds() / 60
        if gap <= LIVE_GAP_MINUTES:
            minutes += gap

    opened = event.type in ("complaint_opened", "complaint_reopened")
    resolved = event.type == "complaint_resolved"
    threats = _remember_threats(customer, event, names, case.case_id)

    open_complaints = case.open_complaints + opened - (resolved and case.open_complaints > 0)
    unresolved = (
        customer.unresolved_complaints + opened - (resolved and customer.unresolved_complaints > 0)
    )
    refs = customer.unresolved_complaint_refs
    if opened and case.case_id is not None:
        refs = (*refs, ComplaintRef(case.case_id, event.occurred_at))
    elif resolved:
        # Resolve this case's oldest open complaint.
        mine = [i for i, ref in enumerate(refs) if ref.case_id == case.case_id]
        if mine:
            refs = refs[: mine[0]] + refs[mine[0] + 1 :]

    new_case = replace(
        case,
        status=status,
        messages=case.messages + (event.type == "customer_message"),
        hostility=_level(hostility),
        abusive_messages=case.abusive_messages + ("abuse" in names),
        threats=case.threats + ("legal_threat" in names) + ("physical_threat" in names),
        legal_threats=case.legal_threats + ("legal_threat" in names),
        physical_threats=case.physical_threats + ("physical_threat" in names),
        supervisor_requests=case.supervisor_requests
        + ("supervisor_demand" in names or event.type == "supervisor_requested"),
        complexity=reported_complexity if reported_complexity is not None else case.complexity,
        minutes_with_customer=round(minutes, 2),
        open_complaints=open_complaints,
        reopened_complaints=case.reopened_complaints + (event.type == "complaint_reopened"),
        topic=str(attrs["topic"]) if isinstance(attrs.get("topic"), str) else case.topic,
        current_agent=event.agent_id if event.agent_id is not None else case.current_agent,
        last_event_at=max(event.occurred_at, case.last_event_at or event.occurred_at),
        open_escalations=_still_open(case.open_escalations, event),
    )
    new_customer = replace(
        customer,
        id=event.customer_id or customer.id,
        tier=event.customer_tier or customer.tier,
        unresolved_complaints=unresolved,
        unresolved_complaint_refs=refs,
        threats=threats,
    )
    return replace(snapshot, case=new_case, customer=new_customer)


def _still_open(standing: Mapping[str, Escalated], event: Event) -> Mapping[str, Escalated]:
    """Return the standing escalations ``event`` leaves open.

    ``case_closed`` closes them all; ``escalation_accepted``,
    ``escalation_resolved`` and ``case_assigned`` close the one to
    ``attributes.target`` (a ``case_assigned`` without a target closes none).
    """
    if event.type == "case_closed":
        return {}
    target = event.attributes.get("target")
    if event.type in CLOSING_EVENTS and isinstance(target, str) and target in standing:
        return {to: esc for to, esc in standing.items() if to != target}
    return standing


def _remember_threats(
    customer: CustomerState, event: Event, names: set[str], case_id: str | None
) -> tuple[ThreatMark, ...]:
    """Add this event's threats to the customer's memory, forgetting the expired ones."""
    horizon = event.occurred_at - THREAT_MEMORY
    kept = tuple(mark for mark in customer.threats if mark.at > horizon)
    new = tuple(
        ThreatMark(event.occurred_at, kind, case_id)
        for signal, kind in THREAT_KINDS.items()
        if signal in names
    )
    return kept + new


def threats_within(customer: CustomerState, event: Event, kind: str | None = None) -> int:
    """Count the customer's threats (of ``kind``, or all) in the memory window before ``event``."""
    horizon = event.occurred_at - THREAT_MEMORY
    return sum(
        1
        for mark in customer.threats
        if mark.at > horizon and mark.at <= event.occurred_at and kind in (None, mark.kind)
    )
