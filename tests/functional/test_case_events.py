"""POST /v1/cases/{case_id}/events on SQLite and PostgreSQL: memory, idempotency, cool-down."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.events import at, body
from tests.support.keys import read_text
from tests.support.wait import wait_until


@pytest.fixture
def app(backend_app: Flask) -> Flask:
    """Run every test of this module on SQLite and on PostgreSQL."""
    return backend_app


def post(client: FlaskClient, case_id: str, event: dict[str, Any]) -> Any:
    response = client.post(f"/v1/cases/{case_id}/events", json=event)
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


def test_a_third_unresolved_complaint_escalates_naming_the_earlier_ones(
    client: FlaskClient,
) -> None:
    post(
        client,
        "C-1",
        body(type="complaint_opened", channel="email", occurred_at="2026-11-02T09:00:00Z"),
    )
    post(
        client,
        "C-2",
        body(type="complaint_opened", channel="email", occurred_at="2026-11-09T09:00:00Z"),
    )
    third = body(type="complaint_opened", channel="email", occurred_at="2026-11-20T09:00:00Z")

    decision = post(client, "C-3", third)

    assert decision["outcome"] == "escalate"
    assert [e["to"] for e in decision["escalations"]] == ["supervisor"]
    assert "repeated-unresolved-complaints" in [m["id"] for m in decision["matched_rules"]]
    assert any(
        "case C-1 opened 2026-11-02" in g and "case C-2 opened 2026-11-09" in g
        for g in decision["guidance"]
    ), decision["guidance"]
    assert decision["duplicate"] is False

    before = client.get("/v1/cases/C-3").get_json()
    response = client.post("/v1/cases/C-3/events", json=third)
    again = response.get_json()

    assert response.status_code == 200
    assert again["duplicate"] is True
    assert {**again, "duplicate": False} == decision
    after = client.get("/v1/cases/C-3").get_json()
    assert after["aggregates"] == before["aggregates"]
    assert after["customer"] == before["customer"]
    assert after["event_count"] == before["event_count"] == 1


def test_the_same_event_id_with_another_body_or_case_is_a_conflict(client: FlaskClient) -> None:
    event = body(text="Hello")
    post(client, "C-1", event)

    changed = client.post("/v1/cases/C-1/events", json={**event, "text": "Hello again"})
    elsewhere = client.post("/v1/cases/C-2/events", json=event)

    assert changed.status_code == 409
    assert changed.get_json()["code"] == "idempotency_conflict"
    assert elsewhere.status_code == 409
    assert (
        client.get("/v1/cases/C-2").status_code == 404
        or client.get("/v1/cases/C-2").get_json()["event_count"] == 0
    )


def test_a_retry_with_reordered_keys_is_the_same_event(client: FlaskClient) -> None:
    event = body(text="Hello", attributes={"topic": "billing", "complexity": 1})
    first = post(client, "C-1", event)
    reordered = dict(reversed(list(event.items())))

    assert post(client, "C-1", reordered)["decision_id"] == first["decision_id"]


def test_an_abusive_customer_flagged_in_one_case_is_announced_in_the_next(
    client: FlaskClient,
) -> None:
    for minute, text in enumerate(
        ["You are an idiot.", "Shut up, you moron.", "You are useless idiots."]
    ):
        decision = post(client, "A", body(text=text, occurred_at=at(minute)))
    assert {
        "type": "flag_customer",
        "flag": "abusive",
        "reason": "repeated abuse in a live conversation",
        "rule": "persistent-abuse-in-live-channel",
    } in decision["actions"]

    next_case = post(
        client, "B", body(text="Hi, my router still does not work.", occurred_at=at(60))
    )

    assert "flagged-customer" in [m["id"] for m in next_case["matched_rules"]]
    assert any(
        "flagged earlier (abusive: repeated abuse in a live conversation (case A, 2026-11-20))" in g
        for g in next_case["guidance"]
    ), next_case["guidance"]
    case_b = client.get("/v1/cases/B").get_json()
    assert case_b["customer"]["flags"] == ["abusive"]


def test_repeated_insults_page_the_supervisor_once_while_the_escalation_stands(
    client: FlaskClient,
) -> None:
    decisions = [
        post(client, "C-9", body(text="You are an idiot.", occurred_at=at(minute)))
        for minute in range(10)
    ]

    new = [
        [(e["mode"], e["rule"]) for e in d["escalations"] if e["status"] == "new"]
        for d in decisions
    ]
    # The third insult tells the supervisor (persistent abuse); the fourth crosses the
    # agent's hostility limit, a more severe handover; every later one stands.
    assert new[2] == [("notify", "persistent-abuse-in-live-channel")]
    assert new[3] == [("handover", "hostility-over-agent-limit")]
    assert sum(1 for n in new if n) == 2
    assert all(
        [(e["to"], e["status"]) for e in d["escalations"]] == [("supervisor", "standing")]
        and d["outcome"] != "escalate"
        for d in decisions[4:]
    )
    notified = [
        d["event_id"]
        for d in decisions
        for a in d["actions"]
        if a == {**a, "type": "notify", "target": "supervisor-on-duty"}
    ]
    assert notified == [decisions[3]["event_id"]]
    case = client.get("/v1/cases/C-9").get_json()
    assert case["customer"]["escalations_30d"] == 2
    assert list(case["open_escalations"]) == ["supervisor"]


def test_a_more_severe_escalation_passes_the_cool_down(client: FlaskClient) -> None:
    for minute in range(3):
        post(client, "C-9", body(text="You are an idiot.", occurred_at=at(minute)))

    demand = post(client, "C-9", body(text="Get me your manager now.", occurred_at=at(5)))

    assert [(e["to"], e["mode"]) for e in demand["escalations"]] == [("supervisor", "handover")]


def test_the_case_shows_aggregates_flags_and_decisions(client: FlaskClient) -> None:
    threat = body(
        text="I will sue you",
        occurred_at=at(0),
        customer={"id": "cus-1", "tier": "key_account"},
    )
    note = body(type="agent_note", occurred_at=at(5), attributes={"complexity": 4})
    post(client, "C-1", threat)
    post(client, "C-1", note)

    case = client.get("/v1/cases/C-1").get_json()

    assert case["event_count"] == 2
    assert case["aggregates"]["messages"] == 1
    assert case["aggregates"]["legal_threats"] == 1
    assert case["aggregates"]["hostility"] == 2
    assert case["aggregates"]["complexity"] == 4
    assert case["customer"]["tier"] == "key_account"
    assert case["last_escalations"]["legal"]["rule"] == "legal-threat"
    # Newest first, as documented.
    assert [d["event_id"] for d in case["decisions"]] == [note["event_id"], threat["event_id"]]
    assert case["decisions_url"] == "/v1/decisions?case_id=C-1"


def test_an_unknown_case_is_a_404_problem(client: FlaskClient) -> None:
    response = client.get("/v1/cases/nope")

    assert response.status_code == 404
    assert response.get_json()["code"] == "case_not_found"


def test_an_event_for_another_customer_is_refused(client: FlaskClient) -> None:
    post(client, "C-1", body(customer={"id": "cus-1"}))

    response = client.post("/v1/cases/C-1/events", json=body(customer={"id": "cus-2"}))

    assert response.status_code == 409
    assert response.get_json()["code"] == "case_customer_mismatch"


def test_agent_profiles_set_the_limits_rules_read(client: FlaskClient) -> None:
    created = client.put(
        "/v1/agents/ag-1",
        json={
            "limits": {"max_complexity": 2, "max_hostility": 1, "max_minutes": 20},
            "skills": ["billing"],
        },
    )
    assert created.status_code == 201
    assert client.get("/v1/agents/ag-1").get_json()["limits"]["max_hostility"] == 1

    post(client, "C-1", body(text="You are an idiot.", occurred_at=at(0)))
    second = post(client, "C-1", body(text="You are a moron.", occurred_at=at(1)))

    (hostile,) = [m for m in second["matched_rules"] if m["id"] == "hostility-over-agent-limit"]
    assert hostile["why"] == "case.hostility 2 > agent.limits.max_hostility 1"


def test_agent_validation_and_missing_agents(client: FlaskClient) -> None:
    assert client.get("/v1/agents/ag-404").get_json()["code"] == "agent_not_found"
    bad = client.put("/v1/agents/ag-1", json={"limits": {"max_hostility": "high"}, "skils": []})
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.get_json()["errors"]}
    assert {"limits.max_hostility", "limits.max_complexity", "skils"} <= fields


def test_the_decision_log_can_be_filtered_and_paged(client: FlaskClient) -> None:
    post(client, "C-1", body(text="I will sue you", occurred_at=at(0)))
    post(client, "C-1", body(text="Hello", occurred_at=at(1)))
    post(
        client, "C-2", body(text="Get me your manager", occurred_at=at(2), customer={"id": "cus-2"})
    )
    # The feed shows a decision once older writers on the server have finished.
    wait_until(lambda: len(client.get("/v1/decisions").get_json()["decisions"]) == 3)

    by_rule = client.get("/v1/decisions?rule=legal-threat").get_json()["decisions"]
    by_case = client.get("/v1/decisions?case_id=C-1").get_json()["decisions"]
    escalated = client.get("/v1/decisions?outcome=escalate&customer_id=cus-2").get_json()[
        "decisions"
    ]
    first = client.get("/v1/decisions?limit=2").get_json()
    rest = client.get(f"/v1/decisions?limit=2&after={first['next_after']}").get_json()

    assert [d["case_id"] for d in by_rule] == ["C-1"]
    assert len(by_case) == 2
    assert [d["case_id"] for d in escalated] == ["C-2"]
    assert len(first["decisions"]) == 2
    assert [d["case_id"] for d in rest["decisions"]] == ["C-2"]
    assert rest["has_more"] is False
    bad = client.get("/v1/decisions?limit=9999&outcome=maybe")
    assert bad.status_code == 422
    assert {e["field"] for e in bad.get_json()["errors"]} == {"limit", "outcome"}


def test_every_stored_decision_is_in_the_decision_log_once(
    client: FlaskClient, app: Flask, tmp_path: Path
) -> None:
    decisions = [
        post(client, "C-1", body(text=t, occurred_at=at(i)))
        for i, t in enumerate(["Hi", "I will sue you"])
    ]
    post(
        client, "C-1", body(event_id=decisions[0]["event_id"], text="Hi", occurred_at=at(0))
    )  # a retry

    lines = [json.loads(line) for line in (tmp_path / "decisions.jsonl").read_text().splitlines()]

    assert [line["decision_id"] for line in lines] == [d["decision_id"] for d in decisions]
    assert lines[1]["matched_rules"][0]["id"] == "legal-threat"
    assert lines[1]["input"]["text"]["masked"] is True
    outbox = app.extensions["escalation"].outbox
    assert outbox.recover() == 0  # nothing left unlogged


def test_decisions_a_crash_kept_out_of_the_log_are_written_on_recovery(
    app: Flask, tmp_path: Path
) -> None:
    from service.ingest import ingest
    from tests.support.events import body as make

    services = app.extensions["escalation"]
    raw = make(text="I will sue you")
    from schemas.api import EventV1Schema

    # Stored, but the process "died" before the line was written.
    stored = ingest(
        services.store, services.policies.current, "C-1", EventV1Schema().load(raw), raw
    )
    services.outbox.settle = __import__("datetime").timedelta(0)

    assert services.outbox.recover() == 1
    (line,) = [json.loads(x) for x in (tmp_path / "decisions.jsonl").read_text().splitlines()]
    assert line["decision_id"] == stored.decision.decision_id
    assert services.outbox.recover() == 0


def test_case_ids_are_validated(client: FlaskClient) -> None:
    response = client.post("/v1/cases/has%20space/events", json=body())

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "case_id"


def test_case_event_decisions_carry_signals_in_any_language(client: FlaskClient) -> None:
    read_text(client)  # a text:read caller sees the words
    decision = post(
        client,
        "C-pl",
        body(
            text="Chcę rozmawiać z kierownikiem.", customer={"id": "cus-7", "tier": "key_account"}
        ),
    )

    (signal,) = decision["signals"]
    assert (signal["name"], signal["language"]) == ("supervisor_demand", "pl")
    assert signal["evidence"] in "Chcę rozmawiać z kierownikiem."
    assert signal["source"].startswith("rules/lexicons/pl/supervisor_demand.yaml:")
    assert decision["escalations"][0]["to"] == "supervisor"
    assert f"matched entry '{signal['entry']}'" in decision["matched_rules"][0]["why"]
    assert signal["evidence"] not in decision["matched_rules"][0]["why"]


def test_a_one_megabyte_message_is_refused_before_anything_is_stored(client: FlaskClient) -> None:
    response = client.post("/v1/cases/C-big/events", json=body(text="x" * 1_000_000))

    assert response.status_code == 413
    assert response.get_json()["code"] == "payload_too_large"
    assert client.get("/v1/cases/C-big").status_code == 404


@pytest.mark.parametrize(
    "callback_at", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:55:00Z"]
)
def test_a_call_back_time_past_what_dates_hold_starts_no_timer(
    client: FlaskClient, callback_at: str
) -> None:
    event = body(type="callback_promised", attributes={"callback_at": callback_at})

    response = client.post("/v1/cases/C-far/events", json=event)

    assert response.status_code == 201


def test_a_lone_surrogate_anywhere_in_an_event_names_its_field(client: FlaskClient) -> None:
    raw = json.dumps(body(text="half an emoji \ud83d", attributes={"topic": "\udc00"}))

    response = client.post("/v1/cases/C-s/events", data=raw, content_type="application/json")

    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == ["text", "attributes.topic"]
