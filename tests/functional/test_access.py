"""Who may call what: every operation refuses a missing key (401) and a key without its scope (403)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from service.api import auth
from service.api.openapi import build_spec
from service.keys import SCOPES
from service.store import keys as rows
from tests.factories import wire_event
from tests.support.keys import add_key, bearer, client_without_key

SPEC = build_spec()
OPERATIONS = [
    (method.upper(), path, operation)
    for path, item in SPEC["paths"].items()
    for method, operation in item.items()
]
PROTECTED = [(m, p, o["x-scope"]) for m, p, o in OPERATIONS if o["security"]]
PUBLIC_OPERATIONS = [(m, p) for m, p, o in OPERATIONS if not o["security"]]


def concrete(path: str) -> str:
    """Return a path with every {parameter} filled in."""
    return re.sub(r"\{[^}]+\}", "x", path)


def send(client: Any, method: str, path: str, **kwargs: Any) -> Any:
    return client.open(concrete(path), method=method, json={}, **kwargs)


def test_the_table_is_what_the_document_declares() -> None:
    # Every documented operation has a scope (or is public), and the scopes are the keys' scopes.
    assert {scope for _, _, scope in PROTECTED} <= set(SCOPES)
    assert {("GET", "/healthz"), ("GET", "/readyz")} <= set(PUBLIC_OPERATIONS)
    for _, path in PUBLIC_OPERATIONS:
        assert path in auth.PUBLIC or path == auth.METRICS or path.startswith(auth.DOCS_PREFIXES)
    for method, path, scope in PROTECTED:
        responses = SPEC["paths"][path][method.lower()]["responses"]
        assert {"401", "403"} <= set(responses), (method, path)
        assert "application/problem+json" in responses["403"]["content"]
        assert SPEC["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
        assert scope in responses["403"]["description"]


@pytest.mark.parametrize(("method", "path", "scope"), PROTECTED)
def test_an_operation_refuses_no_key_and_a_key_without_its_scope(
    app: Flask, method: str, path: str, scope: str
) -> None:
    others = [s for s in SCOPES if s != scope]
    token = add_key(app, "other-scopes", others)
    client = client_without_key(app)

    missing = send(client, method, path)
    refused = send(client, method, path, headers=bearer(token))

    assert missing.status_code == 401
    assert missing.mimetype == "application/problem+json"
    assert missing.get_json()["code"] == "unauthorized"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert refused.status_code == 403
    assert refused.get_json()["code"] == "forbidden"
    assert refused.get_json()["scope"] == scope
    assert scope in refused.get_json()["detail"]


@pytest.mark.parametrize(("method", "path", "scope"), PROTECTED)
def test_the_scope_alone_admits(app: Flask, method: str, path: str, scope: str) -> None:
    token = add_key(app, "just-one", [scope])

    response = send(client_without_key(app), method, path, headers=bearer(token))

    assert response.status_code not in (401, 403), response.get_json()


@pytest.mark.parametrize(("method", "path"), PUBLIC_OPERATIONS)
def test_health_and_readiness_need_no_key(app: Flask, method: str, path: str) -> None:
    assert send(client_without_key(app), method, path).status_code == 200


def test_the_contract_needs_no_key(app: Flask) -> None:
    assert client_without_key(app).get("/openapi.json").status_code == 200


def test_every_route_of_the_application_is_in_the_table_or_public(app: Flask) -> None:
    unlisted = []
    for rule in app.url_map.iter_rules():
        path = auth.template(rule.rule)
        public = path in auth.PUBLIC or path == auth.METRICS or path.startswith(auth.DOCS_PREFIXES)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if not public and (method, path) not in auth.SCOPE_OF:
                unlisted.append((method, path))
    assert unlisted == []


def test_a_route_missing_from_the_table_is_refused_to_every_key(app: Flask) -> None:
    app.add_url_rule("/v1/forgotten", "forgotten", lambda: "open")

    response = app.test_client().get("/v1/forgotten")  # the suite's key has every scope

    assert response.status_code == 403
    assert response.get_json()["code"] == "forbidden"


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Token esk_abc",
        "Bearer esk_a esk_b",
        "Bearer " + "a" * 500,
        "Bearer esk_ünïcode",
        "Bearer esk_unknown",
    ],
)
def test_a_malformed_or_unknown_key_is_a_401(app: Flask, header: str) -> None:
    response = client_without_key(app).get("/v1/rules", headers={"Authorization": header})

    assert response.status_code == 401
    assert response.get_json()["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_scheme_is_case_insensitive(app: Flask) -> None:
    token = add_key(app, "reader", ["decisions:read"])

    response = client_without_key(app).get("/v1/rules", headers={"Authorization": f"bearer {token}"})

    assert response.status_code == 200


def test_a_revoked_key_is_refused(app: Flask) -> None:
    token = add_key(app, "leaving", ["decisions:read"])
    client = client_without_key(app)
    before = client.get("/v1/rules", headers=bearer(token)).status_code
    services = app.extensions["escalation"]
    with services.store.write() as conn:
        rows.revoke(conn, "leaving", datetime.now(UTC))
    services.keys.refresh()

    after = client.get("/v1/rules", headers=bearer(token))

    assert (before, after.status_code) == (200, 401)


def test_docs_and_metrics_follow_their_settings() -> None:
    assert auth.required("GET", "/docs", {"DOCS_PUBLIC": True}) is None
    assert auth.required("GET", "/static/swagger.js", {"DOCS_PUBLIC": True}) is None
    assert auth.required("GET", "/docs", {"DOCS_PUBLIC": False}) == auth.ANY_KEY
    assert auth.required("GET", "/static/x.css", {"DOCS_PUBLIC": False}) == auth.ANY_KEY
    assert auth.required("GET", "/metrics", {"METRICS_REQUIRE_KEY": False}) is None
    assert auth.required("GET", "/metrics", {"METRICS_REQUIRE_KEY": True}) == "decisions:read"
    assert auth.required("GET", "/docsx", {"DOCS_PUBLIC": True}) == auth.NOBODY


def test_the_caller_of_every_decision_is_the_key_not_x_caller_id(
    app: Flask, tmp_path: Path
) -> None:
    token = add_key(app, "ticketing", ["events:write", "decisions:read"])
    client = client_without_key(app)
    spoof = {**bearer(token), "X-Caller-Id": "someone-else"}

    stored = client.post("/v1/cases/C-1/events", json=wire_event(event_id="e-1"), headers=spoof)
    client.post("/v1/evaluate", json={"event": wire_event(event_id="e-2")}, headers=spoof)
    app.extensions["escalation"].decision_log.close()

    assert stored.status_code == 201
    services = app.extensions["escalation"]
    with services.store.read() as conn:
        from service.store.schema import events

        callers = list(conn.execute(events.select().with_only_columns(events.c.caller)).scalars())
    lines = [
        json.loads(line)
        for line in (tmp_path / "decisions.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert callers == ["ticketing"]
    assert [line["caller"] for line in lines] == ["ticketing", "ticketing"]
