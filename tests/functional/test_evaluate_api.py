"""POST /v1/evaluate: decisions with reasons, and clear errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import wire_event


def evaluate(client: FlaskClient, event: dict[str, Any], case: dict[str, Any] | None = None) -> Any:
    body: dict[str, Any] = {"event": event}
    if case is not None:
        body["case"] = case
    return client.post("/v1/evaluate", json=body)


def test_an_event_matching_three_rules_returns_all_three_with_why(client: FlaskClient) -> None:
    response = evaluate(
        client,
        wire_event(
            text="Get me your manager, you idiot!", customer={"id": "cus-1", "tier": "key_account"}
        ),
    )

    assert response.status_code == 200
    decision = response.get_json()
    matched = {m["id"]: m["why"] for m in decision["matched_rules"]}
    assert set(matched) == {
        "customer-demands-supervisor",
        "key-account-senior-handling",
        "abuse-in-live-channel",
    }
    # Why names the lexicon entry that matched and where it is written, not the words.
    assert matched["customer-demands-supervisor"].startswith(
        "signal supervisor_demand (en) matched entry '(get|give|put"
    )
    assert "at rules/lexicons/en/supervisor_demand.yaml:" in matched["customer-demands-supervisor"]
    assert "Get me your manager" not in matched["customer-demands-supervisor"]
    assert "customer.tier key_account = key_account" in matched["key-account-senior-handling"]
    assert "event.channel chat in [phone, chat, in_person]" in matched["abuse-in-live-channel"]
    assert decision["outcome"] == "escalate"
    assert decision["escalations"] == [
        {"to": "supervisor", "mode": "handover", "rule": "customer-demands-supervisor", "status": "new"}
    ]
    assert {s["name"] for s in decision["signals"]} == {"supervisor_demand", "abuse"}
    assert decision["rules_revision"].startswith("sha256:")


def test_limits_in_the_snapshot_are_explained_with_the_values_observed(client: FlaskClient) -> None:
    response = evaluate(
        client,
        wire_event(type="agent_note", text=None, attributes={"hostility": 4}),
        case={
            "agent": {
                "id": "ag-1",
                "limits": {"max_complexity": 3, "max_hostility": 3, "max_minutes": 30},
            }
        },
    )

    (hostile,) = [
        m for m in response.get_json()["matched_rules"] if m["id"] == "hostility-over-agent-limit"
    ]
    assert hostile["why"] == "case.hostility 4 > agent.limits.max_hostility 3"


def test_a_routine_message_is_not_escalated(client: FlaskClient) -> None:
    decision = evaluate(client, wire_event()).get_json()

    assert (decision["outcome"], decision["escalations"], decision["matched_rules"]) == (
        "none",
        [],
        [],
    )


def test_malformed_json_is_a_400_problem(client: FlaskClient) -> None:
    response = client.post("/v1/evaluate", data=b'{"event": {', content_type="application/json")

    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["code"] == "invalid_json"
    assert "line 1" in problem["detail"]


def test_a_wrong_type_names_the_field(client: FlaskClient) -> None:
    response = evaluate(client, wire_event(occurred_at=12, attributes={"complexity": "high"}))

    assert response.status_code == 422
    fields = {e["field"] for e in response.get_json()["errors"]}
    assert fields == {"event.occurred_at", "event.attributes.complexity"}


def test_an_unknown_event_field_names_the_field_and_a_suggestion(client: FlaskClient) -> None:
    response = evaluate(client, wire_event(chanel="chat"))

    assert response.status_code == 422
    (error,) = response.get_json()["errors"]
    assert error == {
        "field": "event.chanel",
        "message": 'unknown field "chanel"; did you mean "channel"?',
    }


def test_a_missing_event_is_named(client: FlaskClient) -> None:
    response = client.post("/v1/evaluate", json={"case": {}})

    assert response.status_code == 422
    assert response.get_json()["errors"] == [
        {"field": "event", "message": "this field is required"}
    ]


def test_a_body_that_is_not_json_is_a_415(client: FlaskClient) -> None:
    response = client.post(
        "/v1/evaluate", data="event=1", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 415
    assert response.get_json()["code"] == "unsupported_media_type"


def test_a_body_over_the_limit_is_a_413(client: FlaskClient) -> None:
    # A dry run may carry a candidate bundle, so its limit is the bundle limit.
    limit = client.application.config["BUNDLE_MAX_BYTES"]
    body = json.dumps({"event": wire_event(text="x" * (limit + 1024))})
    response = client.post("/v1/evaluate", data=body, content_type="application/json")

    assert response.status_code == 413
    assert response.get_json()["code"] == "payload_too_large"


def test_an_event_body_over_the_event_limit_is_a_413(client: FlaskClient) -> None:
    body = json.dumps(wire_event(text="x" * (300 * 1024)))
    response = client.post("/v1/cases/C-1/events", data=body, content_type="application/json")

    assert response.status_code == 413
    assert response.get_json()["code"] == "payload_too_large"


def test_text_over_the_documented_length_is_a_422(client: FlaskClient) -> None:
    response = evaluate(client, wire_event(text="x" * 20_001))

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "event.text"


def test_duplicate_keys_and_nan_are_malformed_json(client: FlaskClient) -> None:
    for raw in (b'{"event": {}, "event": {}}', b'{"event": NaN}'):
        response = client.post("/v1/evaluate", data=raw, content_type="application/json")
        assert response.status_code == 400


def test_unknown_paths_and_methods_are_problems(client: FlaskClient) -> None:
    assert client.get("/v1/nope").get_json()["code"] == "not_found"
    response = client.get("/v1/evaluate")
    assert response.status_code == 405
    assert response.get_json()["code"] == "method_not_allowed"


def test_every_dry_run_is_in_the_decision_log_with_the_text_masked(
    client: FlaskClient, tmp_path: Path
) -> None:
    decision = evaluate(client, wire_event(text="I will sue you")).get_json()

    (line,) = (tmp_path / "decisions.jsonl").read_text().splitlines()
    entry = json.loads(line)
    assert entry["decision_id"] == decision["decision_id"]
    assert entry["dry_run"] is True
    assert entry["input"]["text"]["masked"] is True
    assert "sue" not in json.dumps(entry["input"])
    assert entry["matched_rules"][0]["id"] == "legal-threat"
    assert entry["result"]["outcome"] == "escalate"
    assert entry["rules_revision"] == decision["rules_revision"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=8,
)


@pytest.mark.slow
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    field=st.sampled_from(
        [
            "event_id",
            "type",
            "occurred_at",
            "channel",
            "customer",
            "agent",
            "text",
            "language",
            "attributes",
            "extra",
        ]
    ),
    value=json_values,
    case=st.one_of(
        st.none(),
        json_values,
        st.dictionaries(st.sampled_from(["hostility", "customer", "agent", "x"]), json_values),
    ),
)
def test_no_input_ever_causes_a_server_error(
    client: FlaskClient, field: str, value: Any, case: Any
) -> None:
    body: dict[str, Any] = {"event": wire_event(**{field: value})}
    if case is not None:
        body["case"] = case
    response = client.post("/v1/evaluate", json=body)

    assert response.status_code in (200, 400, 422), response.get_data(as_text=True)
    if response.status_code != 200:
        assert response.mimetype == "application/problem+json"
    if response.status_code == 422:
        assert all(e["field"] and e["message"] for e in response.get_json()["errors"])
        assert response.get_json()["errors"]
