"""The snapshot and event codecs: what is stored comes back equal."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from schemas.api import EventV1Schema
from service.cases.model import (
    AgentProfile,
    CaseState,
    ComplaintRef,
    CustomerState,
    Escalated,
    Snapshot,
    ThreatMark,
)
from service.engine.model import AgentLimits
from service.store.codec import event_from_json, snapshot_from_json, snapshot_to_json

moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
names = st.text("abcdefgh-_0123456789", min_size=1, max_size=12)
counts = st.integers(0, 10**6)
levels = st.floats(0, 10, allow_nan=False)

cases = st.builds(
    CaseState,
    case_id=names,
    status=st.sampled_from(["open", "closed"]),
    messages=counts,
    hostility=st.integers(0, 10),
    abusive_messages=counts,
    threats=counts,
    legal_threats=counts,
    physical_threats=counts,
    supervisor_requests=counts,
    complexity=levels,
    minutes_with_customer=st.floats(0, 10**5, allow_nan=False),
    open_complaints=counts,
    reopened_complaints=counts,
    topic=st.none() | names,
    current_agent=st.none() | names,
    last_event_at=st.none() | moments,
    last_escalations=st.dictionaries(
        names, st.builds(Escalated, at=moments, severity=st.integers(0, 7), rule=names)
    ),
    open_escalations=st.dictionaries(
        names, st.builds(Escalated, at=moments, severity=st.integers(0, 7), rule=names)
    ),
)
customers = st.builds(
    CustomerState,
    id=st.none() | names,
    tier=st.sampled_from(["standard", "key_account"]),
    flags=st.lists(names, unique=True).map(tuple),
    flag_reasons=st.dictionaries(names, st.text(max_size=40)),
    unresolved_complaints=counts,
    escalations_30d=counts,
    unresolved_complaint_refs=st.lists(st.builds(ComplaintRef, case_id=names, opened_at=moments)).map(
        tuple
    ),
    escalated_at=st.lists(moments).map(tuple),
    threats=st.lists(
        st.builds(ThreatMark, moments, st.sampled_from(["legal", "physical"]), st.none() | names)
    ).map(tuple),
)
agents = st.builds(
    AgentProfile,
    id=st.none() | names,
    limits=st.none() | st.builds(AgentLimits, levels, levels, st.floats(1, 1440)),
    skills=st.lists(names).map(tuple),
)


@given(st.builds(Snapshot, case=cases, customer=customers, agent=agents))
def test_a_snapshot_comes_back_equal_from_its_json(snapshot: Snapshot) -> None:
    stored = json.loads(json.dumps(snapshot_to_json(snapshot)))

    assert snapshot_from_json(stored) == snapshot


def test_a_snapshot_keeps_complaint_refs_flag_reasons_and_limits() -> None:
    opened = datetime(2026, 11, 2, 9, tzinfo=UTC)
    snapshot = Snapshot(
        case=CaseState(case_id="C-1", hostility=4, last_event_at=opened),
        customer=CustomerState(
            id="cus-1",
            flags=("abusive",),
            flag_reasons={"abusive": "abuse (case C-0, 2026-11-01)"},
            unresolved_complaint_refs=(ComplaintRef("C-0", opened - timedelta(days=3)),),
        ),
        agent=AgentProfile(id="ag-1", limits=AgentLimits(2, 5, 30), skills=("billing",)),
    )

    data = snapshot_to_json(snapshot)

    assert data["customer"]["complaint_refs"] == [
        {"case_id": "C-0", "opened_at": "2026-10-30T09:00:00+00:00"}
    ]
    assert data["customer"]["flag_reasons"] == {"abusive": "abuse (case C-0, 2026-11-01)"}
    assert data["agent"]["limits"] == {"max_complexity": 2, "max_hostility": 5, "max_minutes": 30}
    assert snapshot_from_json(data) == snapshot


WIRE: list[dict[str, Any]] = [
    {"event_id": "e-1", "type": "agent_note", "occurred_at": "2026-11-20T09:00:00Z"},
    {
        "event_id": "e-2",
        "type": "customer_message",
        "occurred_at": "2026-11-20T10:00:00+01:00",
        "channel": "chat",
        "customer": {"id": "cus-1", "tier": "key_account"},
        "agent": {"id": "ag-1"},
        "text": "Ich will sofort Ihren Vorgesetzten sprechen",
        "language": "de",
        "attributes": {"topic": "billing", "complexity": 4, "callback": True},
    },
    {
        "event_id": "e-3",
        "type": "complaint_opened",
        "occurred_at": "2026-11-20T09:00:00.250z",
        "channel": None,
        "customer": None,
        "agent": None,
        "text": None,
    },
]


def test_a_stored_event_body_reads_as_the_api_read_it() -> None:
    schema = EventV1Schema()
    for body in WIRE:
        assert event_from_json(body) == schema.load(body), body["event_id"]


def test_a_snapshot_missing_keys_reads_as_the_defaults() -> None:
    assert snapshot_from_json({}) == Snapshot()
    assert snapshot_from_json({"case": {"case_id": "C-1"}, "customer": {"id": "cus-1"}}) == Snapshot(
        case=CaseState(case_id="C-1"), customer=CustomerState(id="cus-1")
    )
