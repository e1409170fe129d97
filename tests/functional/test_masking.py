"""A marker word a customer wrote reaches no log, no response and no webhook without text:read.

The marker is sent inside the ``...`` gap of a matched threat phrase (so it is
part of the evidence), in a plain message, as a free attribute value, and in
bad inputs; on SQLite and PostgreSQL it must then be found nowhere a caller
without the text:read scope can look, while a text:read caller does see the
evidence words (so the test can fail).
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.masking import digest
from tests.support.events import body
from tests.support.keys import read_text
from tests.support.receiver import Receiver
from tests.support.wait import wait_until


def marker() -> str:
    return f"ZQXMARKER{uuid.uuid4().hex}"


def capture_everything(caplog: pytest.LogCaptureFixture) -> None:
    """Capture every logger at DEBUG, libraries included (SQLAlchemy's rows and statements)."""
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)
    for name in ("sqlalchemy.engine.Engine", "sqlalchemy.pool", "service", "werkzeug", "httpx"):
        caplog.set_level(logging.DEBUG, logger=name)


class Seen:
    """Every response body and header a test client got, to search for the marker."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.texts: list[tuple[str, str]] = []

    def call(self, method: str, url: str, **kwargs: Any) -> Any:
        response = self.client.open(url, method=method, **kwargs)
        assert response.status_code < 500, (url, response.get_data(as_text=True))
        self.texts.append((f"{method} {url}", response.get_data(as_text=True)))
        self.texts.append((f"{method} {url} headers", str(list(response.headers.items()))))
        return response

    def holding(self, word: str) -> list[str]:
        return [where for where, text in self.texts if word in text]


def threat(word: str) -> str:
    return f"I am coming to your shop {word} and smash it all."


def bad_bodies(word: str) -> list[dict[str, Any]]:
    return [
        body(type=word),
        body(channel=word),
        body(customer={"id": "cus-m", "tier": word}),
        body(language=f"{word} x"),
        body(event_id=f"{word} x"),
        body(occurred_at=word),
        body(attributes={"limit": word}),
        body(attributes={"complexity": word}),
        body(attributes={"hostility": f"{word}"}),
        body(attributes={"order_note": word * 20}),  # over 500 characters
        body(text=word * 600),  # over 20,000 characters
        body(text=threat(word), extra=word),
        body(agent={"id": "ag-1", "name": word}),
        body(customer={"id": word * 10}),  # an id over 200 characters
    ]


def test_a_marker_reaches_no_log_response_or_webhook_without_text_read(
    backend_app: Flask, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gap, plain, attribute, bad = marker(), marker(), marker(), marker()
    words = (gap, plain, attribute, bad)
    capture_everything(caplog)
    seen = Seen(backend_app.test_client())

    with Receiver() as receiver:
        seen.call("PUT", "/v1/webhooks/w", json={"url": receiver.url, "events": "all"})
        threat_event = body(text=threat(gap), customer={"id": "cus-m"})
        decided = seen.call("POST", "/v1/cases/C-m/events", json=threat_event).get_json()
        assert decided["signals"][0]["name"] == "physical_threat"  # the gap is in a match
        seen.call("POST", "/v1/cases/C-m/events", json=threat_event)  # a duplicate
        seen.call(
            "POST",
            "/v1/cases/C-m/events",
            json=body(text=f"My parcel {plain} has not arrived.", customer={"id": "cus-m"}),
        )
        seen.call(
            "POST",
            "/v1/cases/C-m/events",
            json=body(
                type="agent_note",
                attributes={"order_note": attribute, "complexity": 2, "limit": "time"},
                customer={"id": "cus-m"},
            ),
        )
        dry_run = {
            "event": body(text=threat(gap), attributes={"order_note": attribute}),
            "case": {"customer": {"id": "cus-m"}},
        }
        seen.call("POST", "/v1/evaluate", json=dry_run)
        explained = seen.call("POST", "/v1/evaluate?explain=full", json=dry_run).get_json()
        assert explained["not_matched"]  # the explanation is there, only without the words

        # Bad inputs that carry the marker: every one answered, none echoing it.
        for bad_body in bad_bodies(bad):
            response = seen.call("POST", "/v1/cases/C-bad/events", json=bad_body)
            assert response.status_code == 422, response.get_json()
            response = seen.call("POST", "/v1/evaluate", json={"event": bad_body})
            assert response.status_code == 422, response.get_json()
        conflicting = {**threat_event, "text": f"{bad} changed"}
        assert seen.call("POST", "/v1/cases/C-m/events", json=conflicting).status_code == 409
        for raw in (f'{{"text": "{bad}', f'{{"text": "{bad}", "text": "b"}}', f'["{bad}"]'):
            seen.call(
                "POST", "/v1/cases/C-bad/events", data=raw, content_type="application/json"
            )
        seen.call("POST", "/v1/cases/C-bad/events", data=bad, content_type="text/plain")
        for query in (f"explain={bad}", f"explain=full&{bad}=1"):
            seen.call("POST", f"/v1/evaluate?{query}", json=dry_run)
        for query in (f"outcome={bad}", f"since={bad}", f"after={bad}", f"limit={bad}"):
            assert seen.call("GET", f"/v1/decisions?{query}").status_code == 422
        seen.call("GET", f"/v1/webhooks/w/deliveries?status={bad}")
        seen.call("PUT", "/v1/agents/ag-1", json={"limits": {"max_complexity": bad}})
        seen.call("PUT", "/v1/webhooks/w2", json={"url": receiver.url, "events": bad})

        # Three new decisions, three deliveries, all sent.
        def delivered() -> list[Any]:
            found = seen.call("GET", "/v1/webhooks/w/deliveries").get_json()["deliveries"]
            done = [d for d in found if d["status"] == "delivered"]
            return done if len(done) == 3 and receiver.count() >= 3 else []

        wait_until(delivered, message="three webhook deliveries")

        for url in (
            "/v1/cases/C-m",
            "/v1/decisions",
            "/v1/decisions?case_id=C-m",
            "/v1/decisions?customer_id=cus-m&rule=physical-threat",
            "/v1/webhooks",
            "/v1/webhooks/w",
            "/v1/webhooks/w/deliveries",
            "/v1/rules",
            "/v1/rules/revisions",
            "/v1/agents/ag-1",
            "/healthz",
            "/readyz",
        ):
            seen.call("GET", url)

    for word in words:
        assert not seen.holding(word), (word, seen.holding(word))
        log_file = (tmp_path / "decisions.jsonl").read_text(encoding="utf-8")
        assert word not in log_file
        assert word not in caplog.text
        assert not [r for r in caplog.records if word in r.getMessage()]
        for got in receiver.received:
            assert word not in got.body.decode("utf-8")
            assert word not in json.dumps(got.headers)
    assert caplog.records, "nothing was logged at all: the capture is broken"
    # SQLAlchemy's statements are logged, but never its parameters or result rows.
    sql = [r.getMessage() for r in caplog.records if r.name.startswith("sqlalchemy.engine")]
    assert any(m.startswith("SELECT") for m in sql)
    assert not [m for m in sql if m.startswith("Row ")]

    # The decision log holds what it should, masked: the evidence and text by hash.
    lines = [json.loads(line) for line in log_file.splitlines()]
    stored = next(line for line in lines if line["event_id"] == threat_event["event_id"])
    evidence = f"coming to your shop {gap} and smash"
    assert stored["signals"][0]["evidence"] == digest(evidence)
    assert stored["input"]["text"] == digest(threat(gap))
    noted = next(line for line in lines if line["input"]["type"] == "agent_note")
    assert noted["input"]["attributes"] == {
        "order_note": digest(attribute),
        "complexity": 2,
        "limit": "time",
    }
    # A webhook receiver gets the same stand-in as a caller without text:read.
    payloads = [json.loads(got.body)["data"] for got in receiver.received]
    threat_payload = next(p for p in payloads if p["event_id"] == threat_event["event_id"])
    assert threat_payload["signals"][0]["evidence"] == digest(evidence)


def test_a_text_read_caller_sees_the_evidence_words_and_nobody_else(backend_app: Flask) -> None:
    gap = marker()
    client = backend_app.test_client()
    event = body(text=threat(gap), customer={"id": "cus-r"})
    posted = client.post("/v1/cases/C-r/events", json=event)
    assert posted.status_code == 201

    def everything() -> str:
        texts = [
            client.post("/v1/cases/C-r/events", json=event).get_data(as_text=True),  # duplicate
            client.post("/v1/evaluate", json={"event": event}).get_data(as_text=True),
            client.post("/v1/evaluate?explain=full", json={"event": event}).get_data(as_text=True),
            client.get("/v1/cases/C-r").get_data(as_text=True),
            client.get("/v1/decisions?case_id=C-r").get_data(as_text=True),
        ]
        return "\n".join(texts)

    # On PostgreSQL the feed shows a decision once no older transaction is in flight.
    wait_until(lambda: client.get("/v1/decisions?case_id=C-r").get_json()["decisions"])
    without = everything()
    read_text(client)
    with_scope = everything()

    assert gap not in without
    assert gap not in posted.get_data(as_text=True)
    assert with_scope.count(f"coming to your shop {gap} and smash") == 5
    # Why never carries the words, whoever asks: it names the lexicon entry.
    decisions = client.get("/v1/decisions?case_id=C-r").get_json()["decisions"]
    assert gap not in json.dumps(decisions[0]["matched_rules"])
    assert "matched entry '(come|coming|go|going)" in decisions[0]["matched_rules"][0]["why"]
