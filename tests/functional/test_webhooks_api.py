"""Webhooks through the HTTP API: registration, delivery of decisions, retries, 410, redelivery."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from standardwebhooks import Webhook

from service import create_app
from service.policy import Policy
from tests.support.databases import BACKENDS, database_url
from tests.support.events import body
from tests.support.keys import add_key, authorize, bearer, client_without_key
from tests.support.receiver import Receiver
from tests.support.wait import wait_until

SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()
ESCALATING = "I want to speak to your manager now."


def make_app(url: str, tmp_path: Path, policy: Policy, **config: Any) -> Flask:
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DECISION_LOG": str(tmp_path / "decisions.jsonl"),
            "DATABASE_URL": url,
            "DECISION_LOG_FLUSH_SECONDS": 0,
            "WEBHOOK_SEND_SECONDS": 0.05,
            "WEBHOOK_BACKOFF_SECONDS": "0,0.2,0.2,0.2",
            **config,
        },
        policy=policy,
    )
    return authorize(app)


def close(app: Flask) -> None:
    app.extensions["webhook_sender"].stop()
    services = app.extensions["escalation"]
    services.policies.stop()
    services.decision_log.close()
    services.store.engine.dispose()


@pytest.fixture(params=BACKENDS)
def app(request: pytest.FixtureRequest, tmp_path: Path, policy: Policy) -> Iterator[Flask]:
    application = make_app(database_url(request.param, tmp_path, request), tmp_path, policy)
    yield application
    close(application)


@pytest.fixture
def sqlite_app(tmp_path: Path, policy: Policy) -> Iterator[Flask]:
    application = make_app(
        f"sqlite:///{tmp_path / 'instance' / 'escalation.db'}",
        tmp_path,
        policy,
        WEBHOOK_SEND_SECONDS=0,
    )
    yield application
    close(application)


@pytest.fixture
def api(sqlite_app: Flask) -> FlaskClient:
    return sqlite_app.test_client()


def post_event(client: FlaskClient, case_id: str, text: str) -> dict[str, Any]:
    response = client.post(f"/v1/cases/{case_id}/events", json=body(text=text))
    assert response.status_code == 201, response.get_json()
    found: dict[str, Any] = response.get_json()
    return found


def deliveries(client: FlaskClient, webhook_id: str, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"/v1/webhooks/{webhook_id}/deliveries{query}")
    assert response.status_code == 200, response.get_json()
    found: list[dict[str, Any]] = response.get_json()["deliveries"]
    return found


def fields_of(response: Any) -> list[str]:
    assert response.status_code == 422, response.get_json()
    return [e["field"] for e in response.get_json()["errors"]]


# Registration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "url"),
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "https://user:secret@example.com/x"}, "url"),
        ({"url": "http://example.com:notaport/"}, "url"),
        ({"url": 42}, "url"),
        ({"url": "https://example.com/x", "secret": "plain"}, "secret"),
        ({"url": "https://example.com/x", "secret": "whsec_c2hvcnQ="}, "secret"),
        ({"url": "https://example.com/x", "events": "everything"}, "events"),
        ({"url": "https://example.com/x", "retries": 3}, "retries"),
    ],
)
def test_every_invalid_registration_names_its_field(
    api: FlaskClient, payload: dict[str, Any], field: str
) -> None:
    response = api.put("/v1/webhooks/tickets", json=payload)

    assert fields_of(response) == [field]
    assert response.get_json()["code"] == "validation_failed"
    assert api.get("/v1/webhooks/tickets").status_code == 404


def test_a_generated_secret_is_shown_once_and_kept_on_replacement(api: FlaskClient) -> None:
    created = api.put("/v1/webhooks/tickets", json={"url": "https://example.com/hooks"})

    assert created.status_code == 201
    secret = created.get_json()["secret"]
    assert secret.startswith("whsec_")
    shown = api.get("/v1/webhooks/tickets").get_json()
    assert "secret" not in shown
    assert shown["enabled"] is True
    assert shown["events"] == "all"
    assert shown["disabled_reason"] is None

    replaced = api.put(
        "/v1/webhooks/tickets", json={"url": "https://example.com/v2", "events": "escalations"}
    )

    assert replaced.status_code == 200
    assert "secret" not in replaced.get_json()
    assert replaced.get_json()["url"] == "https://example.com/v2"
    assert secret not in json.dumps(api.get("/v1/webhooks").get_json())
    assert secret not in replaced.get_data(as_text=True)


def test_a_given_secret_is_never_echoed(api: FlaskClient) -> None:
    response = api.put(
        "/v1/webhooks/tickets", json={"url": "https://example.com/h", "secret": SECRET}
    )

    assert response.status_code == 201
    assert SECRET not in response.get_data(as_text=True)


def test_endpoints_are_listed_and_deleted(api: FlaskClient) -> None:
    for name in ("b", "a"):
        api.put(f"/v1/webhooks/{name}", json={"url": f"https://example.com/{name}"})

    listed = api.get("/v1/webhooks").get_json()["webhooks"]
    assert [w["id"] for w in listed] == ["a", "b"]

    assert api.delete("/v1/webhooks/a").status_code == 204
    assert api.get("/v1/webhooks/a").status_code == 404
    assert api.delete("/v1/webhooks/a").get_json()["code"] == "webhook_not_found"
    assert [w["id"] for w in api.get("/v1/webhooks").get_json()["webhooks"]] == ["b"]


def test_deleting_cancels_pending_deliveries(api: FlaskClient) -> None:
    api.put("/v1/webhooks/t", json={"url": "http://127.0.0.1:1/x", "secret": SECRET})
    post_event(api, "C-1", "Hello")
    [pending] = deliveries(api, "t")
    assert pending["status"] == "pending"

    api.delete("/v1/webhooks/t")
    api.put("/v1/webhooks/t", json={"url": "http://127.0.0.1:1/x", "secret": SECRET})

    # The new registration of the same id starts with no history.
    assert deliveries(api, "t") == []


def test_deliveries_are_paged_newest_first_and_filtered(api: FlaskClient) -> None:
    api.put("/v1/webhooks/t", json={"url": "http://127.0.0.1:1/x", "secret": SECRET})
    ids = [post_event(api, f"C-{n}", "Hello")["decision_id"] for n in range(3)]

    first = api.get("/v1/webhooks/t/deliveries?limit=2").get_json()
    second = api.get(f"/v1/webhooks/t/deliveries?limit=2&before={first['next_before']}").get_json()

    assert [d["decision_id"] for d in first["deliveries"]] == ids[::-1][:2]
    assert [d["decision_id"] for d in second["deliveries"]] == ids[:1]
    assert second["next_before"] is None
    assert deliveries(api, "t", "?status=delivered") == []
    assert fields_of(api.get("/v1/webhooks/t/deliveries?status=sent")) == ["status"]
    assert api.get("/v1/webhooks/nope/deliveries").status_code == 404


def test_a_duplicate_event_queues_nothing(api: FlaskClient) -> None:
    api.put("/v1/webhooks/t", json={"url": "http://127.0.0.1:1/x", "secret": SECRET})
    event = body(text="Hello")
    api.post("/v1/cases/C-1/events", json=event)

    again = api.post("/v1/cases/C-1/events", json=event)

    assert again.get_json()["duplicate"] is True
    assert len(deliveries(api, "t")) == 1


def test_every_webhook_route_needs_a_key_with_rules_admin(tmp_path: Path, policy: Policy) -> None:
    application = make_app(
        f"sqlite:///{tmp_path / 'instance' / 'escalation.db'}",
        tmp_path,
        policy,
        WEBHOOK_SEND_SECONDS=0,
    )
    client = client_without_key(application)
    good = bearer(add_key(application, "hooks", ["rules:admin"]))
    try:
        refused = client.put("/v1/webhooks/t", json={"url": "https://example.com/h"})
        wrong = client.get("/v1/webhooks", headers={"Authorization": "Bearer nope"})
        created = client.put("/v1/webhooks/t", json={"url": "https://example.com/h"}, headers=good)
        listed = client.get("/v1/webhooks", headers=good)
        unlisted = client.get("/v1/webhooks/t/deliveries")
    finally:
        close(application)

    assert (refused.status_code, refused.get_json()["code"]) == (401, "unauthorized")
    assert wrong.status_code == 401
    assert unlisted.status_code == 401
    assert created.status_code == 201
    assert [w["id"] for w in listed.get_json()["webhooks"]] == ["t"]


# Delivery ---------------------------------------------------------------------------------


def test_a_decision_reaches_the_receiver_signed_as_get_decisions_shows_it(app: Flask) -> None:
    client = app.test_client()
    with Receiver() as receiver:
        client.put("/v1/webhooks/t", json={"url": receiver.url, "secret": SECRET})
        decision = post_event(client, "C-1", ESCALATING)

        wait_until(receiver.count, message="the delivery")

    [got] = receiver.received
    message = Webhook(SECRET).verify(got.body, got.headers)
    # The feed shows a decision once older writers on the server have finished.
    shown = wait_until(lambda: client.get("/v1/decisions?case_id=C-1").get_json()["decisions"])
    assert got.headers["webhook-id"] == decision["decision_id"]
    assert message["type"] == "decision.created"
    assert message["data"] == shown[0]
    delivered = wait_until(lambda: deliveries(client, "t", "?status=delivered"))
    assert delivered[0]["decision_id"] == decision["decision_id"]


def test_an_escalations_endpoint_receives_only_escalations(app: Flask) -> None:
    client = app.test_client()
    with Receiver() as escalations, Receiver() as everything:
        client.put("/v1/webhooks/esc", json={"url": escalations.url, "events": "escalations"})
        client.put("/v1/webhooks/all", json={"url": everything.url})
        post_event(client, "C-1", "Hello")
        escalated = post_event(client, "C-2", ESCALATING)
        post_event(client, "C-3", "Thanks, bye")

        wait_until(lambda: everything.count() == 3, message="three deliveries")
        wait_until(lambda: deliveries(client, "all", "?status=delivered")[2:])

    assert [r.headers["webhook-id"] for r in escalations.received] == [escalated["decision_id"]]
    assert len(deliveries(client, "esc")) == 1


def test_a_receiver_failing_three_times_gets_the_decision_four_times(app: Flask) -> None:
    client = app.test_client()
    with Receiver(answers=[(500, {})] * 3) as receiver:
        client.put("/v1/webhooks/t", json={"url": receiver.url, "secret": SECRET})
        decision = post_event(client, "C-1", "Hello")

        [delivery] = wait_until(
            lambda: deliveries(client, "t", "?status=delivered"), message="success"
        )

    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 500, 200]
    assert all(a["error"] is None and a["duration_ms"] >= 0 for a in delivery["attempts"])
    assert delivery["next_attempt_at"] is None
    assert [r.headers["webhook-id"] for r in receiver.received] == [decision["decision_id"]] * 4
    assert len({r.body for r in receiver.received}) == 1


def test_410_disables_the_endpoint_and_get_says_why(app: Flask) -> None:
    client = app.test_client()
    with Receiver(answers=[(410, {})]) as receiver:
        client.put("/v1/webhooks/t", json={"url": receiver.url})
        post_event(client, "C-1", "Hello")

        shown = wait_until(
            lambda: (w := client.get("/v1/webhooks/t").get_json())["enabled"] is False and w
        )
        post_event(client, "C-2", "Hello again")

    assert "410" in shown["disabled_reason"]
    assert shown["disabled_at"] is not None
    assert [d["status"] for d in deliveries(client, "t")] == ["failed"]
    assert receiver.count() == 1
    refused = client.post(
        f"/v1/webhooks/t/deliveries/{deliveries(client, 't')[0]['delivery_id']}/redeliver"
    )
    assert refused.status_code == 409
    assert refused.get_json()["code"] == "webhook_disabled"
    assert client.put("/v1/webhooks/t", json={"url": receiver.url}).get_json()["enabled"] is True


def test_redelivery_sends_the_same_decision_with_the_same_webhook_id(app: Flask) -> None:
    client = app.test_client()
    with Receiver() as receiver:
        client.put("/v1/webhooks/t", json={"url": receiver.url, "secret": SECRET})
        decision = post_event(client, "C-1", "Hello")
        [delivery] = wait_until(lambda: deliveries(client, "t", "?status=delivered"))

        queued = client.post(f"/v1/webhooks/t/deliveries/{delivery['delivery_id']}/redeliver")

        assert queued.status_code == 202
        assert queued.get_json()["status"] == "pending"
        wait_until(lambda: receiver.count() == 2, message="the redelivery")
        [again] = wait_until(
            lambda: [d for d in deliveries(client, "t") if len(d["attempts"]) == 2]
        )

    assert [r.headers["webhook-id"] for r in receiver.received] == [decision["decision_id"]] * 2
    for got in receiver.received:
        assert (
            Webhook(SECRET).verify(got.body, got.headers)["data"]["decision_id"]
            == decision["decision_id"]
        )
    assert again["status"] == "delivered"
    missing = client.post("/v1/webhooks/t/deliveries/nope/redeliver")
    assert missing.get_json()["code"] == "delivery_not_found"


def test_a_hanging_receiver_never_holds_up_events(tmp_path: Path, policy: Policy) -> None:
    application = make_app(f"sqlite:///{tmp_path / 'instance' / 'escalation.db'}", tmp_path, policy)
    client = application.test_client()
    try:
        with Receiver(hang=True) as receiver:
            client.put("/v1/webhooks/t", json={"url": receiver.url})
            post_event(client, "C-1", "Hello")
            wait_until(receiver.count, message="the sender to connect")

            # The sender is stuck in that request; events are still decided and stored.
            for n in range(5):
                post_event(client, f"C-{n + 2}", "Hello")

            attempt = wait_until(
                lambda: [d for d in deliveries(client, "t") if d["attempts"]], message="a timeout"
            )[0]["attempts"][0]
    finally:
        close(application)

    assert attempt["error"] == "timeout"
    assert attempt["status_code"] is None
