"""No input gives a 500: every bad input is a documented 4xx problem+json, on both databases.

The table holds what a tester tried by hand (issue 9) and more of the same
kinds, on every endpoint family: lone surrogates, NUL characters, timestamps
at the ends of the calendar, numbers past any column, ids past their length,
broken JSON, unknown routes and methods.  Each answer must be a problem
document whose status the OpenAPI document lists for the operation, and the
application must still answer /healthz afterwards.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

import pytest
from flask import Flask, request
from flask.testing import FlaskClient

from service.api import auth
from tests.support.server import Server

PROBLEM_JSON = "application/problem+json"
KB10 = "c" * 10_240


def event(**overrides: Any) -> dict[str, Any]:
    """Return a valid case event dated now; keyword arguments override its fields."""
    body: dict[str, Any] = {
        "event_id": "evt-bad-1",
        "type": "customer_message",
        "occurred_at": datetime.now(UTC).isoformat(),
        "channel": "chat",
        "customer": {"id": "cus-1"},
        "agent": {"id": "ag-1"},
        "text": "Hello, my order has not arrived.",
    }
    body.update(overrides)
    return body


def raw(value: Any) -> bytes:
    """Encode a body as JSON with every non-ASCII character escaped, as lone surrogates must be."""
    return json.dumps(value).encode("ascii")


@dataclass(frozen=True)
class Bad:
    """One bad input: a request and the statuses it may answer."""

    name: str
    method: str
    path: str
    body: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    statuses: tuple[int, ...] = (422,)
    field: str | None = None  # the field the errors must name, when one is at fault


def post(name: str, path: str, value: Any, statuses: tuple[int, ...] = (422,), **kw: Any) -> Bad:
    return Bad(name, "POST", path, raw(value), statuses=statuses, **kw)


def put(name: str, path: str, value: Any, statuses: tuple[int, ...] = (422,), **kw: Any) -> Bad:
    return Bad(name, "PUT", path, raw(value), statuses=statuses, **kw)


def get(name: str, path: str, statuses: tuple[int, ...] = (422,), **kw: Any) -> Bad:
    return Bad(name, "GET", path, statuses=statuses, **kw)


EVENTS = "/v1/cases/C-1/events"
EVALUATE = "/v1/evaluate"
SURROGATE = "\ud800"
NUL = "\u0000"
YEAR_1 = "0001-01-01T00:00:00+01:00"
YEAR_9999 = "9999-12-31T23:59:59-01:00"
WEBHOOK = {"url": "http://127.0.0.1:9/hook"}
BUNDLE = {"files": {"limits.yaml": "rules: []\n"}}


def evaluate(**event_overrides: Any) -> dict[str, Any]:
    return {"event": event(**event_overrides)}


def snapshot(**case: Any) -> dict[str, Any]:
    return {"case": case, "event": event()}


BAD_INPUTS: list[Bad] = [
    # Lone surrogates: text, ids, skills, keys, paths, query strings.
    post("surrogate-text", EVENTS, event(text=f"a{SURROGATE}b"), field="text"),
    post("surrogate-event-id", EVENTS, event(event_id="\udc00"), field="event_id"),
    post("surrogate-customer-id", EVENTS, event(customer={"id": "\ud83d"}), field="customer.id"),
    post("surrogate-key", EVENTS, {**event(), SURROGATE: 1}),
    post("surrogate-attribute-key", EVENTS, event(attributes={SURROGATE: "x"})),
    post(
        "surrogate-attribute-value",
        EVENTS,
        event(attributes={"topic": SURROGATE}),
        field="attributes.topic",
    ),
    post("surrogate-case-id-path", "/v1/cases/%ED%A0%80/events", event(), field="case_id"),
    post("invalid-utf8-case-id-path", "/v1/cases/%FF%FE/events", event(), field="case_id"),
    get("surrogate-get-case-path", "/v1/cases/%ED%A0%80", field="case_id"),
    post("surrogate-evaluate-text", EVALUATE, evaluate(text=SURROGATE), field="event.text"),
    post(
        "surrogate-evaluate-flag",
        EVALUATE,
        snapshot(customer={"flags": [SURROGATE]}),
        field="case.customer.flags[0]",
    ),
    post(
        "surrogate-evaluate-escalation-key",
        EVALUATE,
        snapshot(last_escalations={SURROGATE: {"at": "2026-01-01T00:00:00Z"}}),
    ),
    put("surrogate-skill", "/v1/agents/ag-1", {"skills": [SURROGATE]}, field="skills[0]"),
    put("surrogate-agent-path", "/v1/agents/%ED%A0%80", {"skills": []}, field="agent_id"),
    get("surrogate-get-agent-path", "/v1/agents/%ED%B0%80", field="agent_id"),
    get("surrogate-decisions-case-id", "/v1/decisions?case_id=%ED%A0%80", field="case_id"),
    get("surrogate-decisions-rule", "/v1/decisions?rule=%ED%A0%80", field="rule"),
    get("surrogate-decisions-query-key", "/v1/decisions?%ED%A0%80=1"),
    put("surrogate-webhook-url", "/v1/webhooks/wh-1", {"url": f"http://h/{SURROGATE}"}, field="url"),
    put("surrogate-webhook-path", "/v1/webhooks/%ED%A0%80", WEBHOOK, field="webhook_id"),
    get("surrogate-deliveries-status", "/v1/webhooks/wh-1/deliveries?status=%ED%A0%80"),
    post("surrogate-bundle-path", "/v1/rules/validate", {"files": {SURROGATE: "rules: []"}}),
    post(
        "surrogate-bundle-text",
        "/v1/rules/activate",
        {"files": {"limits.yaml": f"# {SURROGATE}\nrules: []\n"}},
        field="files.limits.yaml",
    ),
    post(
        "surrogate-header-caller",
        EVENTS,
        {"not": "an event"},
        headers={"X-Caller-Id": "\xed\xa0\x80"},
    ),
    # Timestamps at the ends of the calendar, with offsets (overflow converting to UTC).
    post("year-1-offset", EVENTS, event(occurred_at=YEAR_1), field="occurred_at"),
    post("year-9999-offset", EVENTS, event(occurred_at=YEAR_9999), field="occurred_at"),
    post("year-1-utc", EVENTS, event(occurred_at="0001-01-01T00:00:00Z"), field="occurred_at"),
    post(
        "evaluate-year-1-offset", EVALUATE, evaluate(occurred_at=YEAR_1), field="event.occurred_at"
    ),
    post(
        "evaluate-last-event-9999",
        EVALUATE,
        snapshot(last_event_at="9999-12-31T23:59:59-14:00"),
        field="case.last_event_at",
    ),
    post(
        "evaluate-last-event-9999-utc",
        EVALUATE,
        snapshot(last_event_at="9999-12-31T23:59:59Z"),
        field="case.last_event_at",
    ),
    post(
        "evaluate-threat-year-1",
        EVALUATE,
        snapshot(customer={"threats": [{"at": "0001-01-01T00:00:00+14:00", "kind": "legal"}]}),
        field="case.customer.threats[0].at",
    ),
    post(
        "evaluate-complaint-9999",
        EVALUATE,
        snapshot(
            customer={"unresolved_complaint_refs": [{"case_id": "C-0", "opened_at": YEAR_9999}]}
        ),
        field="case.customer.unresolved_complaint_refs[0].opened_at",
    ),
    post(
        "evaluate-escalation-at-9999-utc",
        EVALUATE,
        snapshot(last_escalations={"supervisor": {"at": "9999-12-31T23:59:59Z"}}),
        field="case.last_escalations.supervisor.value.at",
    ),
    get("decisions-since-year-1", "/v1/decisions?since=0001-01-01T00:00:00%2B01:00", field="since"),
    get("decisions-until-9999", "/v1/decisions?until=9999-12-31T23:59:59-01:00", field="until"),
    get("decisions-since-nan", "/v1/decisions?since=NaN", field="since"),
    get("decisions-since-number", f"/v1/decisions?since={10**24}", field="since"),
    # Cursors, page sizes and numbers past what any column holds.
    get("decisions-after-huge", f"/v1/decisions?after={10**24}", field="after"),
    get("decisions-after-huge-negative", f"/v1/decisions?after=-{10**24}", field="after"),
    get("decisions-after-float", "/v1/decisions?after=1.5", field="after"),
    get("decisions-after-nan", "/v1/decisions?after=NaN", field="after"),
    get("decisions-after-inf", "/v1/decisions?after=Infinity", field="after"),
    get("decisions-limit-huge", f"/v1/decisions?limit={10**24}", field="limit"),
    get("decisions-limit-nan", "/v1/decisions?limit=nan", field="limit"),
    get("revisions-before-huge", f"/v1/rules/revisions?before={10**24}", field="before"),
    get("revisions-limit-negative", "/v1/rules/revisions?limit=-1e30", field="limit"),
    get("deliveries-before-nan", "/v1/webhooks/wh-1/deliveries?before=NaN", field="before"),
    get("deliveries-limit-huge", f"/v1/webhooks/wh-1/deliveries?limit={10**30}", field="limit"),
    post(
        "attribute-number-overflow",
        EVENTS,
        event(attributes={"complexity": 10**30}),
        field="attributes.complexity",
    ),
    Bad(
        "json-number-infinite",
        "POST",
        EVENTS,
        raw(event()).replace(b'"text"', b'"attributes": {"complexity": 1e400}, "text"'),
        field="attributes.complexity",
    ),
    put(
        "agent-limit-huge",
        "/v1/agents/ag-1",
        {"limits": {"max_complexity": 1, "max_hostility": 1, "max_minutes": 10**30}},
        field="limits.max_minutes",
    ),
    post("evaluate-count-huge", EVALUATE, snapshot(messages=10**30), field="case.messages"),
    post(
        "evaluate-severity-huge",
        EVALUATE,
        snapshot(last_escalations={"supervisor": {"at": "2026-01-01T00:00:00Z", "severity": 10**20}}),
        field="case.last_escalations.supervisor.value.severity",
    ),
    post(
        "evaluate-minutes-negative",
        EVALUATE,
        snapshot(minutes_with_customer=-1e308),
        field="case.minutes_with_customer",
    ),
    Bad(
        "json-integer-5000-digits",
        "POST",
        EVENTS,
        raw(event()).replace(b'"text"', b'"n": ' + b"9" * 5000 + b', "text"'),
        statuses=(400,),
    ),
    # NUL characters: PostgreSQL stores none in text or jsonb.
    post("nul-text", EVENTS, event(text=f"a{NUL}b"), field="text"),
    post("nul-customer-id", EVENTS, event(customer={"id": NUL}), field="customer.id"),
    post("nul-topic", EVENTS, event(attributes={"topic": f"x{NUL}"}), field="attributes.topic"),
    post("nul-key", EVENTS, {**event(), f"a{NUL}": 1}),
    post("nul-case-id-path", "/v1/cases/a%00b/events", event(), field="case_id"),
    post("nul-evaluate-text", EVALUATE, evaluate(text=NUL), field="event.text"),
    put("nul-skill", "/v1/agents/ag-1", {"skills": [f"a{NUL}"]}, field="skills[0]"),
    get("nul-decisions-rule", "/v1/decisions?rule=a%00b", field="rule"),
    get("nul-decisions-case-id", "/v1/decisions?case_id=%00", field="case_id"),
    put("nul-webhook-url", "/v1/webhooks/wh-1", {"url": f"http://h/{NUL}"}, field="url"),
    put("nul-webhook-path", "/v1/webhooks/a%00b", WEBHOOK, field="webhook_id"),
    post(
        "nul-bundle-text",
        "/v1/rules/activate",
        {"files": {"limits.yaml": f"rules: []{NUL}\n"}},
        field="files.limits.yaml",
    ),
    post("nul-bundle-path", "/v1/rules/validate", {"files": {f"a{NUL}.yaml": "rules: []"}}),
    get("nul-deliveries-status", "/v1/webhooks/wh-1/deliveries?status=%00"),
    # Lengths past the documented limits.
    post("long-case-id", f"/v1/cases/{KB10}/events", event(), statuses=(414, 422), field="case_id"),
    get("long-get-case-id", f"/v1/cases/{KB10}", statuses=(414, 422), field="case_id"),
    get("long-agent-id", f"/v1/agents/{KB10}", statuses=(414, 422), field="agent_id"),
    put("long-webhook-id", f"/v1/webhooks/{KB10}", WEBHOOK, statuses=(414, 422), field="webhook_id"),
    get("long-decisions-rule", f"/v1/decisions?rule={KB10}", statuses=(414, 422), field="rule"),
    post("long-text", EVENTS, event(text="x" * 20_001), field="text"),
    Bad("body-300-kib", "POST", EVENTS, b" " * (300 * 1024) + raw(event()), statuses=(413,)),
    post(
        "too-many-attributes",
        EVENTS,
        event(attributes={f"a{i}": i for i in range(51)}),
        field="attributes",
    ),
    Bad("json-deep-nesting", "POST", EVENTS, b"[" * 100_000 + b"]" * 100_000, statuses=(400,)),
    # Broken JSON and media types.
    Bad("not-json-media-type", "POST", EVENTS, raw(event()), "text/plain", statuses=(415,)),
    Bad("no-body", "POST", EVENTS, None, statuses=(400, 415)),
    Bad("malformed-json", "POST", EVENTS, b'{"event_id": ', statuses=(400,)),
    Bad("invalid-utf8-body", "POST", EVENTS, b'{"event_id": "\xff"}', statuses=(400,)),
    Bad(
        "utf16-body-with-surrogate",
        "POST",
        EVENTS,
        json.dumps(event(text="\ud800\u0000")).encode("utf-16-le"),
        statuses=(400,),
    ),
    Bad("duplicate-keys", "POST", EVENTS, b'{"a": 1, "a": 2}', statuses=(400,)),
    Bad("nan-literal", "POST", EVENTS, b'{"a": NaN}', statuses=(400,)),
    post("json-array", EVENTS, [event()], field="(body)"),
    post("redeliver-unknown-webhook", "/v1/webhooks/wh-1/deliveries/d-1/redeliver", None, (404,)),
    get("evaluate-get", "/v1/evaluate?explain=%ED%A0%80", statuses=(405,)),
    post("explain-unknown", "/v1/evaluate?explain=%ED%A0%80", evaluate(), field="explain"),
    post("reload-force-unknown", "/v1/rules/reload?force=maybe", None, field="force"),
    post(
        "bundle-yaml-alias-to-itself",
        "/v1/rules/activate",
        {"files": {"limits.yaml": "rules: &a [*a]\n"}},
    ),
    post(
        "evaluate-bundle-yaml-bad-tag",
        EVALUATE,
        {**evaluate(), "rules": {"files": {"limits.yaml": "rules: [!!int abc]\n"}}},
    ),
    post(
        "bundle-billion-laughs",
        "/v1/rules/activate",
        {
            "files": {
                "limits.yaml": "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
                + "".join(f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]\n" for i in range(1, 20))
                + "rules: *a19\n"
            }
        },
    ),
    post("activate-both-sources", "/v1/rules/activate", {**BUNDLE, "revision": "sha256:" + "0" * 64}),
    post("evaluate-unknown-revision", EVALUATE, {**evaluate(), "rules": {"revision": "x"}}),
    # Unknown routes and methods.
    get("unknown-route", "/v1/nope", statuses=(404,)),
    get("empty-case-id", "/v1/cases/", statuses=(404,)),
    Bad("events-delete", "DELETE", EVENTS, statuses=(405,)),
    Bad("agent-patch", "PATCH", "/v1/agents/ag-1", statuses=(405,)),
    post("decisions-post", "/v1/decisions", {}, statuses=(405,)),
]


def documented(app: Flask, method: str, path: str) -> set[int] | None:
    """Return the statuses the OpenAPI document lists for a request, or None for no operation."""
    bare = path.split("?", 1)[0]
    for template, operations in app.extensions["openapi"]["paths"].items():
        pattern = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, bare) and method.lower() in operations:
            return {int(code) for code in operations[method.lower()]["responses"]}
    return None


def send(client: FlaskClient, bad: Bad, headers: dict[str, str]) -> Any:
    path, _, query = bad.path.partition("?")
    # The path as a WSGI server passes it: the raw bytes, one character each
    # (the test client would decode them, invalid UTF-8 included, before the app sees them).
    raw_path = unquote_to_bytes(path).decode("latin-1")
    return client.open(
        bad.path,
        environ_overrides={"PATH_INFO": raw_path, "QUERY_STRING": query},
        method=bad.method,
        data=bad.body,
        content_type=bad.content_type if bad.body is not None else None,
        headers={**headers, **bad.headers},
    )


def test_the_table_covers_every_kind_on_every_family() -> None:
    assert len(BAD_INPUTS) >= 59
    assert len({bad.name for bad in BAD_INPUTS}) == len(BAD_INPUTS)
    families = ("/events", "/v1/evaluate", "/v1/cases/", "/v1/decisions", "/v1/agents/")
    families += ("/v1/rules", "/v1/webhooks/")
    for family in families:
        assert any(family in bad.path for bad in BAD_INPUTS), family


@pytest.mark.parametrize("bad", BAD_INPUTS, ids=lambda bad: bad.name)
def test_bad_input_is_a_documented_problem(
    backend_app: Flask, api_headers: dict[str, str], bad: Bad
) -> None:
    client = backend_app.test_client()

    response = send(client, bad, api_headers)

    assert response.status_code in bad.statuses, response.get_data(as_text=True)[:500]
    assert response.mimetype == PROBLEM_JSON
    problem = response.get_json()
    assert problem["status"] == response.status_code
    assert problem["code"]
    listed = documented(backend_app, bad.method, bad.path)
    if listed is None or response.status_code == 405:
        assert response.status_code in (404, 405)
    else:
        assert response.status_code in listed, (response.status_code, sorted(listed))
    if bad.field is not None:
        assert bad.field in {e["field"] for e in problem["errors"]}, problem
    assert client.get("/healthz", headers=api_headers).status_code == 200


def test_no_problem_echoes_a_nul_or_lone_surrogate(backend_app: Flask) -> None:
    client = backend_app.test_client()
    for bad in BAD_INPUTS:
        if bad.body is None or b"\\u0000" not in bad.body:
            continue
        text = send(client, bad, {}).get_data(as_text=True)
        assert "\x00" not in text, bad.name


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """Yield a JSON body of ``total`` bytes in pieces, as a chunked upload sends it."""
    head = b'{"event_id": "evt-big", "text": "'
    yield head
    sent = len(head)
    while sent < total - 2:
        piece = b"x" * min(size, total - 2 - sent)
        sent += len(piece)
        yield piece
    yield b'"}'


def test_chunked_5_mb_body_is_413_through_the_test_client(
    backend_app: Flask, api_headers: dict[str, str]
) -> None:
    client = backend_app.test_client()

    response = client.post(
        EVENTS,
        content_type="application/json",
        headers={**api_headers, "Transfer-Encoding": "chunked"},
        # As gunicorn passes a chunked body: a stream of unknown length that ends itself.
        environ_overrides={
            "wsgi.input": _Stream(chunks(5 * 1024 * 1024)),
            "wsgi.input_terminated": True,
        },
    )

    assert response.status_code == 413
    assert response.mimetype == PROBLEM_JSON
    assert response.get_json()["code"] == "payload_too_large"
    assert client.get("/v1/cases/C-1", headers=api_headers).status_code == 404


def test_chunked_body_under_the_limit_is_read_whole(
    app: Flask, api_headers: dict[str, str]
) -> None:
    body = raw(event(event_id="evt-chunked", text="x" * 10_000))
    client = app.test_client()

    response = client.post(
        EVENTS,
        content_type="application/json",
        headers={**api_headers, "Transfer-Encoding": "chunked"},
        environ_overrides={
            "wsgi.input": _Stream(iter([body[:1000], body[1000:]])),
            "wsgi.input_terminated": True,
        },
    )

    assert response.status_code == 201, response.get_data(as_text=True)


class _Stream:
    """A WSGI input stream over a generator of byte chunks, as a chunked body arrives."""

    def __init__(self, parts: Iterator[bytes]) -> None:
        self._parts = parts
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            part = next(self._parts, None)
            if part is None:
                break
            self._buffer += part
        if size < 0:
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


@pytest.mark.slow
def test_chunked_5_mb_body_is_413_through_gunicorn(
    tmp_path: Path, api_headers: dict[str, str]
) -> None:
    with Server(tmp_path / "server", workers=1) as server:
        response = server.client.post(
            EVENTS,
            data=chunks(5 * 1024 * 1024),
            headers={**api_headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 413
        assert response.headers["Content-Type"].startswith(PROBLEM_JSON)
        assert response.json()["code"] == "payload_too_large"
        assert server.client.get("/v1/cases/C-1", headers=api_headers).status_code == 404
        assert server.client.get("/healthz").status_code == 200


def test_an_unexpected_error_is_a_problem_that_leaks_nothing(
    app: Flask,
    api_headers: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken() -> str:
        raise ValueError(f"customer wrote: {request.args['text']}")

    app.add_url_rule("/v1/broken", view_func=broken)
    # A route outside the access table is refused to every key: give this one a scope.
    monkeypatch.setattr(auth, "SCOPE_OF", {**auth.SCOPE_OF, ("GET", "/v1/broken"): "decisions:read"})

    response = app.test_client().get("/v1/broken?text=card+4111", headers=api_headers)

    assert response.status_code == 500
    assert response.mimetype == PROBLEM_JSON
    assert response.get_json()["code"] == "internal_error"
    assert "4111" not in response.get_data(as_text=True)
    assert "ValueError" in caplog.text
    assert "/v1/broken" in caplog.text
    assert "4111" not in caplog.text


@pytest.mark.parametrize("caller", ["a\x00b", "\x01\x1f", "x" * 10_000, "\xed\xa0\x80"])
def test_an_odd_caller_header_is_stored_cleaned(
    backend_app: Flask, api_headers: dict[str, str], caller: str
) -> None:
    client = backend_app.test_client()

    response = client.post(
        EVENTS, json=event(event_id="evt-caller"), headers={**api_headers, "X-Caller-Id": caller}
    )

    assert response.status_code == 201, response.get_data(as_text=True)
    log = Path(backend_app.config["DECISION_LOG"]).read_text(encoding="utf-8")
    logged = json.loads(log.splitlines()[-1])["caller"]
    assert "\x00" not in logged
    assert len(logged) <= 200
