"""Who may call what: one table from endpoint to scope, checked before every request.

Every request that reaches a view passes ``authenticate``; a route missing from
the table is refused (fail closed), and a test checks that every route of the
application is in the table or public.  Views and other modules ask
``has_scope``, ``may_read_text`` and ``key_name``; none checks keys itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from flask import Flask, Response, current_app, g, request

from service.api.codes import ErrorCode
from service.api.context import services
from service.api.errors import ApiError, problem
from service.keys import Key
from service.masking import TextPolicy, mask_decision

EVENTS_WRITE = "events:write"
DECISIONS_READ = "decisions:read"
RULES_ADMIN = "rules:admin"
TEXT_READ = "text:read"
# Not scopes: the endpoint needs a valid key, whatever its scopes; no key may call it.
ANY_KEY = "any valid key"
NOBODY = "none (the endpoint is missing from the access table)"

# (method, path as the OpenAPI document writes it) -> the scope it needs.
SCOPE_OF: Mapping[tuple[str, str], str] = {
    ("POST", "/v1/cases/{case_id}/events"): EVENTS_WRITE,
    ("POST", "/v1/evaluate"): EVENTS_WRITE,
    ("GET", "/v1/cases/{case_id}"): DECISIONS_READ,
    ("GET", "/v1/decisions"): DECISIONS_READ,
    ("GET", "/v1/rules"): DECISIONS_READ,
    ("GET", "/v1/rules/revisions"): DECISIONS_READ,
    ("GET", "/v1/decisions/latest"): DECISIONS_READ,
    ("GET", "/v1/stats/escalations"): DECISIONS_READ,
    ("GET", "/v1/timers"): DECISIONS_READ,
    ("GET", "/v1/webhook-deliveries"): DECISIONS_READ,
    ("POST", "/v1/rules/validate"): RULES_ADMIN,
    ("POST", "/v1/rules/reload"): RULES_ADMIN,
    ("POST", "/v1/rules/activate"): RULES_ADMIN,
    ("GET", "/v1/agents/{agent_id}"): RULES_ADMIN,
    ("PUT", "/v1/agents/{agent_id}"): RULES_ADMIN,
    ("GET", "/v1/webhooks"): RULES_ADMIN,
    ("GET", "/v1/webhooks/{webhook_id}"): RULES_ADMIN,
    ("PUT", "/v1/webhooks/{webhook_id}"): RULES_ADMIN,
    ("DELETE", "/v1/webhooks/{webhook_id}"): RULES_ADMIN,
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): RULES_ADMIN,
    ("POST", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): RULES_ADMIN,
}
# Open to anyone: probes and the contract.
# /ops is a shell that holds no data: it asks for a key and reads the endpoints
# above with it, so what it shows is behind decisions:read.
PUBLIC = frozenset({"/healthz", "/readyz", "/openapi.json", "/ops"})
# The API reference and its assets: public unless DOCS_PUBLIC is false (then any valid key).
DOCS_PREFIXES = ("/docs", "/static")
# Public unless METRICS_REQUIRE_KEY is true (then decisions:read).
METRICS = "/metrics"

MAX_TOKEN_CHARS = 200
_BEARER = re.compile(r"Bearer ([A-Za-z0-9._~+/=-]+)", re.IGNORECASE)
_PARAMETER = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")
REALM = 'Bearer realm="escalation"'


# Per route, not per request: an application has a few dozen rules.
@lru_cache(maxsize=512)
def template(rule: str) -> str:
    """Return a Flask rule in the OpenAPI document's form: ``/v1/cases/{case_id}``."""
    return _PARAMETER.sub(r"{\1}", rule)


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p + "/") for p in prefixes)


def required(method: str, path: str, config: Mapping[str, Any]) -> str | None:
    """Return the scope a request needs (or ANY_KEY), or None when it is public."""
    if path in PUBLIC:
        return None
    if _under(path, DOCS_PREFIXES):
        return None if config.get("DOCS_PUBLIC", True) else ANY_KEY
    if path == METRICS:
        return DECISIONS_READ if config.get("METRICS_REQUIRE_KEY", False) else None
    if method == "OPTIONS":
        # Flask's automatic answer names the allowed methods, nothing more.
        return ANY_KEY
    # Fail closed: a route missing from the table is refused to every key.
    return SCOPE_OF.get(("GET" if method == "HEAD" else method, path), NOBODY)


def _unauthorized(detail: str, error: str | None = None) -> Response:
    response = problem(ApiError(401, ErrorCode.UNAUTHORIZED, "Unauthorized", detail))
    response.headers["WWW-Authenticate"] = f'{REALM}, error="{error}"' if error else REALM
    return response


def _forbidden(key: Key, needed: str, path: str) -> Response:
    detail = (
        f"{request.method} {path} is not open to any key"
        if needed == NOBODY
        else f"the key {key.name!r} lacks the scope {needed}, which {request.method} {path} needs"
    )
    response = problem(
        ApiError(403, ErrorCode.FORBIDDEN, "Forbidden", detail, extra={"scope": needed})
    )
    response.headers["WWW-Authenticate"] = (
        f'{REALM}, error="insufficient_scope", scope="{needed}"'
    )
    return response


def authenticate() -> Response | None:
    """Admit the request, or answer 401 (no valid key) or 403 (the key lacks the scope)."""
    rule = request.url_rule
    if rule is None:
        # Routing failed: the usual 404 or 405, which say nothing a key protects.
        return None
    path = template(rule.rule)
    needed = required(request.method, path, current_app.config)
    if needed is None:
        return None
    header = request.headers.get("Authorization")
    if header is None:
        return _unauthorized("send an API key as Authorization: Bearer <token>")
    match = _BEARER.fullmatch(header.strip())
    if match is None or len(match.group(1)) > MAX_TOKEN_CHARS:
        return _unauthorized(
            "the Authorization header is not Bearer <token>", error="invalid_request"
        )
    ring = services().keys
    key = ring.lookup(match.group(1)) if ring is not None else None
    if key is None:
        return _unauthorized("the API key is unknown or revoked", error="invalid_token")
    g.api_key = key
    if needed == ANY_KEY or needed in key.scopes:
        return None
    return _forbidden(key, needed, path)


def current_key() -> Key | None:
    """Return the key the request was admitted with, or None for a public endpoint."""
    key: Key | None = g.get("api_key")
    return key


def has_scope(scope: str) -> bool:
    """Return whether the request's key has ``scope``."""
    key = current_key()
    return key is not None and scope in key.scopes


def may_read_text() -> bool:
    """Return whether the request's key may see customers' message text unmasked."""
    return has_scope(TEXT_READ)


def key_name() -> str | None:
    """Return the name of the request's key, or None for a public endpoint."""
    key = current_key()
    return key.name if key is not None else None


def init_app(app: Flask) -> None:
    """Check every request of ``app`` against the table before its view runs."""
    app.before_request(authenticate)


def shown_decision(wire: dict[str, Any]) -> dict[str, Any]:
    """Return a decision in its wire form as this caller may see it (docs/masking.md)."""
    if may_read_text():
        return wire
    key = current_app.config.get("TEXT_HASH_KEY")
    return mask_decision(wire, TextPolicy.HASH, key.encode("utf-8") if key else None)
