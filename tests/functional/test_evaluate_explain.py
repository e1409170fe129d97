"""POST /v1/evaluate?explain=full: why every rule that did not match did not, and nothing else changes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service import create_app
from tests.factories import rules_dir, wire_event
from tests.support.keys import authorize

LIMITS = {"max_complexity": 3, "max_hostility": 3, "max_minutes": 45}
CASE = {"agent": {"id": "ag-1", "limits": LIMITS}}
TEXT = "Get me your manager, you idiot! Where is my refund?"


def evaluate(client: FlaskClient, query: str, event: dict[str, Any]) -> Any:
    return client.post(f"/v1/evaluate{query}", json={"event": event, "case": CASE})


def test_a_rule_missed_by_one_condition_names_it_with_the_value_observed(
    client: FlaskClient,
) -> None:
    response = evaluate(client, "?explain=full", wire_event(attributes={"complexity": 3}))

    assert response.status_code == 200
    body = response.get_json()
    missed = {m["id"]: m for m in body["not_matched"]}
    assert missed["complexity-over-agent-limit"] == {
        "id": "complexity-over-agent-limit",
        "title": "Issue complexity is past the agent's limit",
        "failed": {
            "condition": "case.complexity 3 > agent.limits.max_complexity 3: false",
            "field": "case.complexity",
            "observed": 3,
        },
    }
    assert missed["specialist-for-unfamiliar-topic"]["failed"]["observed"] == "(absent)"
    matched = {m["id"] for m in body["matched_rules"]}
    assert not matched & set(missed)


def test_one_more_point_of_complexity_moves_the_rule_from_missed_to_matched(
    client: FlaskClient,
) -> None:
    body = evaluate(client, "?explain=full", wire_event(attributes={"complexity": 4})).get_json()

    assert "complexity-over-agent-limit" in {m["id"] for m in body["matched_rules"]}
    assert "complexity-over-agent-limit" not in {m["id"] for m in body["not_matched"]}


def test_without_explain_full_the_response_is_unchanged(client: FlaskClient) -> None:
    event = wire_event(attributes={"complexity": 3})
    plain = evaluate(client, "", event).get_json()
    explained = evaluate(client, "?explain=full", event).get_json()

    assert "not_matched" not in plain
    assert set(explained) - set(plain) == {"not_matched", "cancelled_signals"}
    volatile = {"decision_id", "evaluated_at", "duration_ms", "not_matched", "cancelled_signals"}
    assert {k: v for k, v in plain.items() if k not in volatile} == {
        k: v for k, v in explained.items() if k not in volatile
    }


@pytest.mark.parametrize("value", ["fool", "", "FULL"])
def test_an_unknown_explain_value_is_a_problem_naming_the_field(
    client: FlaskClient, value: str
) -> None:
    response = evaluate(client, f"?explain={value}", wire_event())

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["code"] == "validation_failed"
    assert [e["field"] for e in problem["errors"]] == ["explain"]


@pytest.fixture
def text_rule_client(tmp_path: Path) -> Iterator[FlaskClient]:
    """Serve a rule set with rules that read the message text itself."""
    rules = rules_dir(
        tmp_path,
        {
            "text.yaml": """
            rules:
              - id: mentions-a-lawyer
                title: Mentions a lawyer
                description: The message text mentions a lawyer.
                priority: 50
                when:
                  event.text: {contains: lawyer}
                then:
                  guidance: "Stay calm."
              - id: text-is-not-the-topic
                title: Text is not the topic
                description: A field-to-field comparison with the text on the right.
                priority: 50
                when:
                  event.channel: {eq: event.text}
                then:
                  guidance: "Odd."
            """
        },
    )
    app = create_app(
        {
            "TESTING": True,
            "RULES_DIR": str(rules),
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DECISION_LOG": str(tmp_path / "decisions.jsonl"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'instance' / 'escalation.db'}",
            "DECISION_LOG_FLUSH_SECONDS": 0,
        }
    )
    yield authorize(app).test_client()
    services = app.extensions["escalation"]
    services.decision_log.close()
    services.store.engine.dispose()


def test_message_text_never_appears_in_not_matched(
    text_rule_client: FlaskClient, tmp_path: Path
) -> None:
    body = evaluate(text_rule_client, "?explain=full", wire_event(text=TEXT)).get_json()

    missed = {m["id"]: m["failed"] for m in body["not_matched"]}
    stand_in = f"(text, {len(TEXT)} characters)"
    assert missed["mentions-a-lawyer"] == {
        "condition": f"event.text {stand_in} contains lawyer: false",
        "field": "event.text",
        "observed": stand_in,
    }
    assert missed["text-is-not-the-topic"]["condition"] == (
        f"event.channel chat = event.text {stand_in}: false"
    )
    (logged,) = [
        json.loads(line) for line in (tmp_path / "decisions.jsonl").read_text("utf-8").splitlines()
    ]
    assert logged["result"]["not_matched"] == body["not_matched"]
    shown = json.dumps(body["not_matched"])
    for word in ("manager", "idiot", "refund"):
        assert word not in shown


def test_the_parameter_and_the_field_are_documented(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    operation = spec["paths"]["/v1/evaluate"]["post"]

    (param,) = [p for p in operation["parameters"] if p["name"] == "explain"]
    assert (param["in"], param["schema"]["enum"]) == ("query", ["full"])
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    explained = spec["components"]["schemas"][ok.rsplit("/", 1)[-1]]
    assert "not_matched" in explained["properties"]
    assert "NotMatchedV1" in spec["components"]["schemas"]
