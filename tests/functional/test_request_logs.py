"""The application log of requests: request ids, one access line each, and no message text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import logs
from tests.factories import wire_event

SECRET = "quokka-marmalade-9931"


@pytest.fixture
def debug_logs(app: Flask) -> Iterator[None]:
    """Log everything, DEBUG included, for the test (the app configured INFO)."""
    logs.configure("DEBUG")
    yield
    logs.configure()


def json_lines(err: str) -> list[dict[str, Any]]:
    """Parse every line of standard error; each must be JSON."""
    return [json.loads(line) for line in err.splitlines() if line.strip()]


def access(err: str) -> list[dict[str, Any]]:
    return [line for line in json_lines(err) if line["logger"] == "service.access"]


def test_a_request_id_sent_in_is_echoed_and_on_the_access_line(
    client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    response = client.get("/healthz", headers={"X-Request-ID": "abc-123"})

    assert response.headers["X-Request-ID"] == "abc-123"
    [line] = access(capsys.readouterr().err)
    assert line["request_id"] == "abc-123"
    assert (line["method"], line["path"], line["route"], line["status"]) == (
        "GET",
        "/healthz",
        "/healthz",
        200,
    )
    assert line["duration_ms"] >= 0


@pytest.mark.parametrize("given", [None, "x" * 500, "bad id", "a\tb"])
def test_a_missing_or_unsafe_request_id_is_replaced_by_a_new_one(
    client: FlaskClient, capsys: pytest.CaptureFixture[str], given: str | None
) -> None:
    capsys.readouterr()
    headers = {} if given is None else {"X-Request-ID": given}
    first = client.get("/healthz", headers=headers).headers["X-Request-ID"]
    second = client.get("/healthz", headers=headers).headers["X-Request-ID"]

    assert len(first) == len(second) == 32
    assert first != second
    assert [line["request_id"] for line in access(capsys.readouterr().err)] == [first, second]


def test_every_request_gets_exactly_one_access_line_whatever_its_answer(
    client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    requests = [
        ("GET", "/healthz", None, 200),
        ("GET", "/v1/cases/nobody", None, 404),
        ("GET", "/no/such/path", None, 404),
        ("DELETE", "/v1/evaluate", None, 405),
        ("POST", "/v1/evaluate", {"event": {"type": "nonsense"}}, 422),
        ("POST", "/v1/evaluate", {"event": wire_event()}, 200),
        ("POST", "/v1/cases/C-9/events", wire_event(event_id="one-line"), 201),
    ]
    ids = []
    for method, path, body, status in requests:
        response = client.open(path, method=method, json=body)
        assert response.status_code == status, path
        ids.append(response.headers["X-Request-ID"])

    lines = access(capsys.readouterr().err)
    assert [(a["request_id"], a["method"], a["path"], a["status"]) for a in lines] == [
        (rid, method, path, status)
        for rid, (method, path, _, status) in zip(ids, requests, strict=True)
    ]
    assert [a["route"] for a in lines][1:4] == ["/v1/cases/<case_id>", "unmatched", "unmatched"]


def test_message_text_never_reaches_the_log(
    client: FlaskClient, debug_logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    text = f"I want your manager now, {SECRET}"
    client.post("/v1/cases/S-1/events", json=wire_event(event_id="s-1", text=text))
    client.post("/v1/cases/S-1/events", json=wire_event(event_id="s-1", text=text))  # a repeat
    client.post("/v1/cases/S-1/events", json=wire_event(event_id="s-1", text=text + "!"))  # 409
    client.post("/v1/evaluate?explain=full", json={"event": wire_event(text=text)})
    client.post("/v1/evaluate", json={"event": wire_event(text=text, channel=SECRET)})  # 422
    client.get(f"/v1/decisions?case_id=S-1&text={SECRET}")
    client.get(f"/v1/cases/S-1?{SECRET}=1")

    err = capsys.readouterr().err
    lines = json_lines(err)
    assert len(access(err)) == 7
    assert SECRET not in err
    assert all(SECRET not in json.dumps(line) for line in lines)


def test_an_activation_is_logged_with_its_revision(
    app: Flask, client: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    response = client.post("/v1/rules/reload")
    assert response.status_code == 200
    revision = response.get_json()["revision"]

    [line] = [x for x in json_lines(capsys.readouterr().err) if x["event"] == "rules activated"]
    assert line["revision"] == revision
    assert line["action"] == "reload"
    assert line["logger"] == "service.activation"
    assert line["request_id"] == response.headers["X-Request-ID"]
