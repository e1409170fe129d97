"""Standing escalations, customer memory and event time bounds, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from schemas.api import EventV1Schema
from service import decide
from service.cases.model import AgentProfile, CaseState, Snapshot
from service.store import codec
from service.store import repository as repo
from tests.support.events import at, body


@pytest.fixture
def app(backend_app: Flask) -> Flask:
    """Run every test of this module on SQLite and on PostgreSQL."""
    return backend_app


def post(client: FlaskClient, case_id: str, event: dict[str, Any]) -> Any:
    response = client.post(f"/v1/cases/{case_id}/events", json=event)
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


def statuses(decision: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["to"], e["status"]) for e in decision["escalations"]]


def notifications(decision: dict[str, Any], target: str) -> int:
    return sum(1 for a in decision["actions"] if a["type"] == "notify" and a["target"] == target)


SUPERVISOR_DEMAND = "I want to speak to your manager."


def conversation() -> list[dict[str, Any]]:
    """Return ten chat messages past the agent's complexity limit; every third demands a boss."""
    return [
        body(
            text=SUPERVISOR_DEMAND if minute % 3 == 1 else "It still does not work.",
            occurred_at=at(minute),
            attributes={"complexity": 6},
        )
        for minute in range(10)
    ]


def test_ten_messages_past_the_limit_escalate_once_and_page_the_supervisor_once(
    client: FlaskClient,
) -> None:
    decisions = [post(client, "C-10", event) for event in conversation()]

    specialist = [s for d in decisions for s in statuses(d) if s[0] == "specialist"]
    assert specialist == [("specialist", "new")] + [("specialist", "standing")] * 9
    supervisor = [
        (i, s) for i, d in enumerate(decisions) for s in statuses(d) if s[0] != "specialist"
    ]
    # The first demand (message 2) raises the supervisor; the later demands find it standing.
    assert supervisor == [
        (1, ("supervisor", "new")),
        (4, ("supervisor", "standing")),
        (7, ("supervisor", "standing")),
    ]
    assert [notifications(d, "supervisor-on-duty") for d in decisions] == [0, 1] + [0] * 8
    assert [d["outcome"] for d in decisions] == ["escalate", "escalate"] + ["route"] * 8
    case = client.get("/v1/cases/C-10").get_json()
    assert case["customer"]["escalations_30d"] == 2
    assert sorted(case["open_escalations"]) == ["specialist", "supervisor"]


def test_a_resolved_escalation_is_raised_anew_after_its_cool_down(client: FlaskClient) -> None:
    first = post(client, "C-1", body(text=SUPERVISOR_DEMAND, occurred_at=at(0)))
    post(
        client,
        "C-1",
        body(type="escalation_resolved", occurred_at=at(10), attributes={"target": "supervisor"}),
    )
    held = post(client, "C-1", body(text=SUPERVISOR_DEMAND, occurred_at=at(20)))
    again = post(client, "C-1", body(text=SUPERVISOR_DEMAND, occurred_at=at(90)))

    assert statuses(first) == [("supervisor", "new")]
    # Resolved, so no longer standing; but inside the rule's one-hour cool-down.
    assert statuses(held) == []
    assert [s["to"] for s in held["suppressed"]] == ["supervisor"]
    assert notifications(held, "supervisor-on-duty") == 0
    assert statuses(again) == [("supervisor", "new")]
    assert notifications(again, "supervisor-on-duty") == 1


def test_accepting_or_assigning_closes_one_target_and_closing_the_case_closes_all(
    client: FlaskClient,
) -> None:
    post(
        client, "C-1", body(text=SUPERVISOR_DEMAND, occurred_at=at(0), attributes={"complexity": 6})
    )
    assert sorted(client.get("/v1/cases/C-1").get_json()["open_escalations"]) == [
        "specialist",
        "supervisor",
    ]

    post(
        client,
        "C-1",
        body(type="escalation_accepted", occurred_at=at(1), attributes={"target": "supervisor"}),
    )
    assert list(client.get("/v1/cases/C-1").get_json()["open_escalations"]) == ["specialist"]

    post(client, "C-1", body(type="case_closed", occurred_at=at(2)))
    assert client.get("/v1/cases/C-1").get_json()["open_escalations"] == {}


def test_a_more_severe_escalation_to_a_standing_target_is_new(client: FlaskClient) -> None:
    insults = [
        post(client, "C-9", body(text="You are an idiot.", occurred_at=at(minute)))
        for minute in range(3)
    ]
    handover = post(client, "C-9", body(text="You are an idiot.", occurred_at=at(3)))

    assert [(e["mode"], e["status"]) for e in insults[2]["escalations"]] == [("notify", "new")]
    assert [(e["mode"], e["status"]) for e in handover["escalations"]] == [("handover", "new")]


def test_a_threat_in_a_new_case_repeats_the_customer_s_threat_in_another(
    client: FlaskClient,
) -> None:
    first = post(client, "A", body(text="I will sue you.", channel="email", occurred_at=at(0)))
    second = post(
        client, "B", body(text="See you in court.", channel="email", occurred_at=at(60 * 24))
    )

    assert "repeated-threats" not in [m["id"] for m in first["matched_rules"]]
    assert "repeated-threats" in [m["id"] for m in second["matched_rules"]]
    assert second["route_to"] == "legal"
    assert ("legal", "new") in statuses(second)
    memory = client.get("/v1/cases/B").get_json()["customer"]["threats"]
    assert [(t["kind"], t["case_id"]) for t in memory] == [("legal", "A"), ("legal", "B")]


def test_an_unresolved_complaint_follows_the_customer_into_another_case(
    client: FlaskClient,
) -> None:
    opened = post(
        client,
        "C-1",
        body(type="complaint_opened", channel="email", occurred_at="2026-11-02T09:00:00Z"),
    )
    message = post(client, "C-2", body(text="Hello, a question about my bill.", occurred_at=at(0)))
    post(
        client,
        "C-1",
        body(type="complaint_resolved", channel="email", occurred_at=at(5)),
    )
    after = post(client, "C-2", body(text="And another question.", occurred_at=at(10)))

    assert "unresolved-complaint-special-handling" not in [m["id"] for m in opened["matched_rules"]]
    assert "unresolved-complaint-special-handling" in [m["id"] for m in message["matched_rules"]]
    assert any("case C-1 opened 2026-11-02" in g for g in message["guidance"]), message["guidance"]
    assert "unresolved-complaint-special-handling" not in [m["id"] for m in after["matched_rules"]]


@pytest.mark.parametrize("when", ["9999-12-31T00:00:00Z", "2020-01-01T00:00:00Z"])
def test_an_event_far_from_the_server_clock_is_a_422_naming_occurred_at(
    client: FlaskClient, when: str
) -> None:
    stored = client.post("/v1/cases/C-1/events", json=body(occurred_at=when))
    dry = client.post("/v1/evaluate", json={"event": body(occurred_at=when)})

    assert stored.status_code == 422
    assert [e["field"] for e in stored.get_json()["errors"]] == ["occurred_at"]
    assert dry.status_code == 422
    assert [e["field"] for e in dry.get_json()["errors"]] == ["event.occurred_at"]
    assert client.get("/v1/cases/C-1").status_code == 404


def test_a_targeted_escalation_event_needs_its_target(client: FlaskClient) -> None:
    response = client.post(
        "/v1/cases/C-1/events", json=body(type="escalation_resolved", occurred_at=at(0))
    )

    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == ["attributes.target"]


def test_a_duplicate_answers_the_stored_decision_with_its_statuses(client: FlaskClient) -> None:
    events = conversation()[:3]
    decisions = [post(client, "C-1", event) for event in events]

    again = client.post("/v1/cases/C-1/events", json=events[2])

    assert again.status_code == 200
    assert {**again.get_json(), "duplicate": False} == decisions[2]
    assert statuses(again.get_json()) == [("specialist", "standing")]


def test_the_dry_run_and_the_stored_path_reach_the_same_state(
    app: Flask, client: FlaskClient
) -> None:
    bodies = [
        *conversation()[:4],
        body(text="You are an idiot. I will sue you.", occurred_at=at(20)),
        body(type="complaint_opened", channel="email", occurred_at=at(21)),
        body(text="You are useless idiots.", occurred_at=at(22)),
        body(text="Shut up, you moron.", occurred_at=at(23)),
        body(type="escalation_accepted", occurred_at=at(24), attributes={"target": "specialist"}),
        body(text="I know where you live.", occurred_at=at(25)),
    ]
    stored = [post(client, "C-7", b) for b in bodies]

    services = app.extensions["escalation"]
    policy = services.policies.current
    snapshot = Snapshot(case=CaseState(case_id="C-7"), agent=AgentProfile(id="ag-1"))
    dry = []
    for raw in bodies:
        evaluation = decide.evaluate(policy, snapshot, EventV1Schema().load(raw), case_id="C-7")
        dry.append(evaluation.decision)
        snapshot = evaluation.after
    with services.store.read() as conn:
        view = repo.get_case(conn, "C-7", datetime.now(UTC))
    assert view is not None
    assert view.customer is not None

    assert codec.case_to_json(view.state) == codec.case_to_json(snapshot.case)
    assert (
        codec.snapshot_to_json(Snapshot(customer=view.customer))["customer"]
        == codec.snapshot_to_json(snapshot)["customer"]
    )
    assert view.customer.flags == ("abusive",)
    assert [(d["outcome"], statuses(d), d["actions"]) for d in stored] == [
        (d.outcome, [(e.to, e.status) for e in d.escalations], list(d.actions)) for d in dry
    ]
