"""The rule set over HTTP: inspect, validate, and reload without ever serving a broken set."""

from __future__ import annotations

import shutil
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from tests.conftest import RULES
from tests.support.keys import add_key, authorize, bearer, client_without_key

BROKEN = """
rules:
  - id: broken
    title: Broken
    description: A misspelled operator.
    when: {case.hostility: {gtee: 2}}
    then: {guidance: hi}
"""


def copy_rules(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(RULES, target)
    return target


def make_client(tmp_path: Path, rules: Path) -> FlaskClient:
    app = create_app(
        {
            "TESTING": True,
            "RULES_DIR": str(rules),
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DECISION_LOG": str(tmp_path / "decisions.jsonl"),
        }
    )
    return authorize(app).test_client()


def test_the_active_rule_set_is_listed(client: FlaskClient) -> None:
    body = client.get("/v1/rules").get_json()

    assert body["revision"].startswith("sha256:")
    ids = [r["id"] for r in body["rules"]]
    assert "customer-demands-supervisor" in ids
    assert {"supervisor_demand", "legal_threat", "physical_threat", "abuse"} <= set(body["signals"])
    supervisor = next(r for r in body["rules"] if r["id"] == "customer-demands-supervisor")
    assert supervisor["file"] == "rules/supervisor.yaml"
    assert supervisor["line"] > 0


def test_a_broken_reload_keeps_the_active_set(tmp_path: Path) -> None:
    rules = copy_rules(tmp_path)
    client = make_client(tmp_path, rules)
    before = client.get("/v1/rules").get_json()["revision"]
    (rules / "broken.yaml").write_text(BROKEN)

    validation = client.post("/v1/rules/validate").get_json()
    assert validation["valid"] is False
    (issue,) = validation["issues"]
    assert (issue["file"], issue["line"], issue["rule"]) == ("rules/broken.yaml", 6, "broken")
    assert issue["message"] == 'unknown operator "gtee"'
    assert issue["hint"] == 'did you mean "gte"?'
    assert issue["column"] == 28  # the operator mapping {gtee: 2}

    response = client.post("/v1/rules/reload")
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["code"] == "rules_invalid"
    assert problem["active_revision"] == before
    assert client.get("/v1/rules").get_json()["revision"] == before
    assert (
        client.post(
            "/v1/evaluate",
            json={
                "event": {
                    "event_id": "e",
                    "type": "customer_message",
                    "occurred_at": "2026-11-22T10:00:00Z",
                    "text": "I will sue you",
                }
            },
        ).get_json()["rules_revision"]
        == before
    )


def test_a_reload_reaches_every_worker(tmp_path: Path) -> None:
    rules = copy_rules(tmp_path)
    first, second = make_client(tmp_path, rules), make_client(tmp_path, rules)
    before = second.get("/v1/rules").get_json()["revision"]
    extra = rules / "extra.yaml"
    extra.write_text(BROKEN.replace("gtee", "gte").replace("id: broken", "id: extra"))

    assert second.get("/v1/rules").get_json()["revision"] == before  # no reload yet
    reloaded = first.post("/v1/rules/reload").get_json()
    second.application.extensions["escalation"].policies.refresh()  # what its poller does

    assert reloaded["revision"] != before
    assert reloaded["previous_revision"] == before
    assert second.get("/v1/rules").get_json()["revision"] == reloaded["revision"]


def test_reload_needs_a_key_with_rules_admin(app: Flask) -> None:
    reader = add_key(app, "reader", ["decisions:read"])
    admin = add_key(app, "admin", ["rules:admin"])
    client = client_without_key(app)

    assert client.post("/v1/rules/reload").status_code == 401
    assert client.post("/v1/rules/reload", headers=bearer(reader)).status_code == 403
    assert client.post("/v1/rules/reload", headers=bearer(admin)).status_code == 200


def test_health_checks(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz").get_json()
    assert ready["status"] == "ready"
    assert ready["rules_revision"].startswith("sha256:")
