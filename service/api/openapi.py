"""GET /openapi.json: the API contract, generated from the wire schemas."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, current_app

from schemas import activation
from schemas import api as wire
from schemas import webhooks as hooks
from schemas.common import MAX_CURSOR, StrictSchema
from service.api import auth
from service.api.codes import ErrorCode
from service.config import defaults

bp = Blueprint("openapi", __name__)

API_VERSION = "1.0.0"
DESCRIPTION = """\
Decide when a support case leaves the frontline agent's hands.

Ticketing systems send case events; the service answers with a routing and
escalation decision and the reasons for it. Every error is an RFC 9457
problem document (`application/problem+json`) with a stable snake_case
`code` and, for invalid requests, one entry per field in `errors`.

Every endpoint but the health checks, this document and the API reference
needs an API key, sent as `Authorization: Bearer <token>`, whose scopes
include the one the operation names (`x-scope`): `events:write`,
`decisions:read`, `rules:admin`; `text:read` unmasks message text where an
endpoint can show it. No key, or an unknown or revoked one, is a 401
(`unauthorized`); a key without the scope is a 403 (`forbidden`).
"""
SECURITY_SCHEME = "apiKey"

SCHEMAS = {
    "EventV1": wire.EventV1Schema,
    "CaseSnapshotV1": wire.CaseSnapshotV1Schema,
    "EvaluateRequestV1": wire.EvaluateRequestV1Schema,
    "DecisionV1": wire.DecisionV1Schema,
    "ExplainedDecisionV1": wire.ExplainedDecisionV1Schema,
    "ProblemV1": wire.ProblemV1Schema,
    "RulesetV1": wire.RulesetV1Schema,
    "ValidationResultV1": wire.ValidationResultV1Schema,
    "CaseV1": wire.CaseV1Schema,
    "AgentProfileV1": wire.AgentProfileV1Schema,
    "AgentV1": wire.AgentV1Schema,
    "DecisionPageV1": wire.DecisionPageV1Schema,
    "ActiveRulesetV1": activation.ActiveRulesetV1Schema,
    "ActivateRequestV1": activation.ActivateRequestV1Schema,
    "ValidateRequestV1": activation.ValidateRequestV1Schema,
    "ActivatedV1": activation.ActivatedV1Schema,
    "RevisionsPageV1": activation.RevisionsPageV1Schema,
}


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemV1"}}
        },
    }


BAD_INPUT = {
    "400": _problem("Malformed JSON (code invalid_json)."),
    "413": _problem("Body larger than the limit (code payload_too_large)."),
    "415": _problem("Body is not JSON (code unsupported_media_type)."),
    "422": _problem("A field is missing, unknown or of the wrong type (code validation_failed)."),
}


ID_LIMITS: dict[str, Any] = {"minLength": 1, "maxLength": 200, "pattern": r"^[^\s\x00-\x1f]+$"}
RULE_LIMITS: dict[str, Any] = {"minLength": 1, "maxLength": 80}


# What service/api/body.py path_id accepts: 1 to 200 characters, no spaces, controls or /.
PATH_ID_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": 200,
    "pattern": r"^[^\s\x00-\x1f/]+$",
}
BAD_PATH_ID = _problem(
    "The id in the path is not 1 to 200 characters without spaces or /, or not UTF-8 "
    "(code validation_failed)."
)


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": dict(PATH_ID_SCHEMA),
        "description": description,
    }


def _query(
    name: str, kind: str, description: str, fmt: str | None = None, **limits: object
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": kind, **limits}
    if fmt:
        schema["format"] = fmt
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


PATHS: dict[str, dict[str, Any]] = {
    "/v1/cases/{case_id}/events": {
        "post": {
            "summary": "Decide on one case event and store both in one transaction.",
            "description": (
                "event_id is the idempotency key: the same event again returns the stored "
                "decision with duplicate: true (200) and changes nothing; the same event_id with "
                "a different body, or for another case, is a 409. A 2xx means the event and its "
                "decision are durably stored."
            ),
            "operationId": "postCaseEvent",
            "parameters": [_path_param("case_id", "The ticketing system's case id.")],
            "requestBody": {"required": True, "content": _json("EventV1")},
            "responses": {
                "201": {"description": "Stored; the decision.", "content": _json("DecisionV1")},
                "200": {
                    "description": "Already stored: the original decision, duplicate true.",
                    "content": _json("DecisionV1"),
                },
                **BAD_INPUT,
                "409": _problem("idempotency_conflict, or case_customer_mismatch."),
                "503": _problem("store_busy: the database stayed locked; retry."),
            },
        }
    },
    "/v1/cases/{case_id}": {
        "get": {
            "summary": "The case as the service sees it: aggregates, customer, decisions so far.",
            "operationId": "getCase",
            "parameters": [_path_param("case_id", "The case id.")],
            "responses": {
                "200": {"description": "The case.", "content": _json("CaseV1")},
                "404": _problem("case_not_found."),
            },
        }
    },
    "/v1/agents/{agent_id}": {
        "get": {
            "summary": "An agent's limit profile and skills.",
            "operationId": "getAgent",
            "parameters": [_path_param("agent_id", "The agent id.")],
            "responses": {
                "200": {"description": "The profile.", "content": _json("AgentV1")},
                "404": _problem("agent_not_found."),
            },
        },
        "put": {
            "summary": "Create or replace an agent's limit profile and skills.",
            "operationId": "putAgent",
            "parameters": [_path_param("agent_id", "The agent id.")],
            "requestBody": {"required": True, "content": _json("AgentProfileV1")},
            "responses": {
                "200": {"description": "Replaced.", "content": _json("AgentV1")},
                "201": {"description": "Created.", "content": _json("AgentV1")},
                **BAD_INPUT,
            },
        },
    },
    "/v1/decisions": {
        "get": {
            "summary": "Stored decisions, filtered, oldest or newest first: a feed skipping none.",
            "description": (
                "Follow the feed by passing next_after back as after=: every stored decision "
                "comes exactly once, in commit order, also while others are writing (a "
                "decision appears once every transaction older than it has ended). next_after "
                "is opaque. order=desc reads newest first; a cursor works with either order. "
                "See docs/decision-feed.md."
            ),
            "operationId": "listDecisions",
            "parameters": [
                _query("case_id", "string", "Only this case.", **ID_LIMITS),
                _query("customer_id", "string", "Only this customer.", **ID_LIMITS),
                _query(
                    "rule", "string", "Only decisions where this rule matched.", **RULE_LIMITS
                ),
                _query("outcome", "string", "The outcome.", enum=["escalate", "route", "none"]),
                _query("since", "string", "Received at or after (ISO 8601).", "date-time"),
                _query("until", "string", "Received before (ISO 8601).", "date-time"),
                _query(
                    "after",
                    "string",
                    "Cursor: next_after of the previous page (opaque; the whole numbers "
                    "earlier versions handed out are still accepted).",
                ),
                {
                    **_query("order", "string", "asc: oldest first (default); desc: newest first."),
                    "schema": {"type": "string", "enum": ["asc", "desc"], "default": "asc"},
                },
                _query(
                    "limit", "integer", "Page size, 1-1000 (default 50).", minimum=1, maximum=1000
                ),
            ],
            "responses": {
                "200": {"description": "A page of decisions.", "content": _json("DecisionPageV1")},
                "422": BAD_INPUT["422"],
            },
        }
    },
    "/v1/evaluate": {
        "post": {
            "summary": "Dry run: decide on one event given a case snapshot; nothing is stored.",
            "description": (
                "With `rules` (a stored `revision`, or a bundle of `files`) the event is decided "
                "by those rules instead of the active revision, which stays in force; an "
                "invalid bundle is a 422 rules_invalid with every issue. Bodies may be as large "
                "as a bundle (ESCALATION_BUNDLE_MAX_BYTES)."
            ),
            "operationId": "evaluate",
            "parameters": [
                {
                    **_query(
                        "explain",
                        "string",
                        "full: add not_matched, every rule that did not match with the first "
                        "condition that failed and the value it saw (message text shown only "
                        "as its length). Any other value is a 422 naming explain.",
                    ),
                    "schema": {"type": "string", "enum": ["full"]},
                }
            ],
            "requestBody": {"required": True, "content": _json("EvaluateRequestV1")},
            "responses": {
                "200": {
                    "description": "The decision (DecisionV1); with explain=full, also "
                    "not_matched.",
                    "content": _json("ExplainedDecisionV1"),
                },
                **BAD_INPUT,
                "404": _problem("revision_not_found: rules.revision names no stored bundle."),
            },
        }
    },
    "/v1/rules": {
        "get": {
            "summary": "The rule set this worker serves, the active revision and the last "
            "failed attempt to change it.",
            "operationId": "getRules",
            "responses": {
                "200": {"description": "The active rule set.", "content": _json("ActiveRulesetV1")}
            },
        }
    },
    "/v1/rules/validate": {
        "post": {
            "summary": "Validate a bundle sent in the body, or the rule files on disk; "
            "activate nothing and build no engine.",
            "operationId": "validateRules",
            "requestBody": {"required": False, "content": _json("ValidateRequestV1")},
            "responses": {
                "200": {
                    "description": "Whether the files are valid, and every issue.",
                    "content": _json("ValidationResultV1"),
                },
                **BAD_INPUT,
            },
        }
    },
    "/v1/rules/reload": {
        "post": {
            "summary": "Validate, compile and activate the rule files on this server's disk "
            "for every worker and server; the active set stays when they are invalid.",
            "description": (
                "Runs the activation guard first: recent events are replayed with the "
                "candidate, and a rise of the escalation rate past the configured margin is "
                "refused (409 escalation_rate_guard) unless force=true."
            ),
            "operationId": "reloadRules",
            "parameters": [_query("force", "boolean", "Activate even if the guard refuses.")],
            "responses": {
                "200": {"description": "The new active rule set.", "content": _json("ActivatedV1")},
                "409": _problem(
                    "escalation_rate_guard: the candidate would raise the escalation rate past "
                    "the margin; `replay` holds the summary."
                ),
                "422": _problem(
                    "The files are not valid (code rules_invalid); `issues` lists every problem."
                ),
            },
        }
    },
    "/v1/rules/activate": {
        "post": {
            "summary": "Activate a bundle sent in the body, or roll back to an earlier revision.",
            "description": (
                "Send either `files` (the bundle: file text by path relative to the rules "
                "folder) or `revision` (any revision activated before). Every worker of every "
                "server sharing the database serves it within seconds."
            ),
            "operationId": "activateRules",
            "requestBody": {"required": True, "content": _json("ActivateRequestV1")},
            "responses": {
                "200": {"description": "The new active rule set.", "content": _json("ActivatedV1")},
                **BAD_INPUT,
                "404": _problem("revision_not_found: no bundle with that revision is stored."),
                "409": _problem("escalation_rate_guard: see reload."),
            },
        }
    },
    "/v1/rules/revisions": {
        "get": {
            "summary": "The activation history, newest first: revision, previous revision, who, "
            "when, forced, and the replay summary of the guard.",
            "operationId": "listRuleRevisions",
            "parameters": [
                _query("limit", "integer", "Page size (default 50).", minimum=1, maximum=200),
                _query(
                    "before",
                    "integer",
                    "Cursor: next_before of the previous page.",
                    minimum=1,
                    maximum=MAX_CURSOR,
                ),
            ],
            "responses": {
                "200": {
                    "description": "A page of activations.",
                    "content": _json("RevisionsPageV1"),
                },
                "422": BAD_INPUT["422"],
            },
        }
    },
    "/healthz": {
        "get": {
            "summary": "Liveness.",
            "operationId": "healthz",
            "responses": {"200": {"description": "Alive."}},
        }
    },
    "/readyz": {
        "get": {
            "summary": "Readiness.",
            "operationId": "readyz",
            "responses": {"200": {"description": "Ready."}},
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics (text format 0.0.4), every worker's counts added up.",
            "description": "The series are listed in docs/operations.md.",
            "operationId": "metrics",
            "responses": {
                "200": {
                    "description": "The metrics.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    },
}


def build_spec() -> dict[str, Any]:
    """Build the OpenAPI document from the wire schemas and the path table."""
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="Escalation decision service",
        version=API_VERSION,
        openapi_version="3.0.3",
        plugins=[plugin],
        info={"description": DESCRIPTION},
    )
    plugin.map_to_openapi_type(wire.AttributesField, "object", None)  # type: ignore[no-untyped-call]
    for name, schema in SCHEMAS.items():
        spec.components.schema(name, schema=schema)
    spec.components.security_scheme(
        SECURITY_SCHEME,
        {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key (esk_...): `escalation keys add NAME --scopes ...`.",
        },
    )
    for path, operations in PATHS.items():
        for operation in operations.values():
            takes_id = any(p["in"] == "path" for p in operation.get("parameters", []))
            if takes_id:
                operation["responses"].setdefault("422", BAD_PATH_ID)
        spec.path(path=path, operations=secured(path, operations))
    document: dict[str, Any] = spec.to_dict()
    document["components"]["schemas"]["ProblemV1"]["properties"]["code"] = error_codes()
    components = document["components"]["schemas"]
    for key, name in plugin.converter.refs.items():  # type: ignore[union-attr]
        if issubclass(key[0], StrictSchema) and name in components:
            # The server refuses unknown keys, naming them: the document says so.
            components[name]["additionalProperties"] = False
    add_links(document["paths"])
    return document


def secured(path: str, operations: dict[str, Any]) -> dict[str, Any]:
    """Return the operations with the security auth.py enforces: the key, its scope, 401, 403."""
    config = defaults("instance")
    done: dict[str, Any] = {}
    for method, operation in operations.items():
        scope = auth.required(method.upper(), path, config)
        if scope is None:
            done[method] = {**operation, "security": []}
            continue
        # OpenAPI 3.0 lists scopes only for OAuth2 schemes: the scope goes in x-scope.
        done[method] = {
            **operation,
            "security": [{SECURITY_SCHEME: []}],
            "x-scope": scope,
            "description": f"{operation.get('description', '')}\n\nNeeds an API key with "
            f"scope `{scope}`.".lstrip(),
            "responses": {
                **operation["responses"],
                "401": _problem(
                    "No API key, an Authorization header that is not Bearer <token>, or an "
                    "unknown or revoked key (code unauthorized)."
                ),
                "403": _problem(f"The key lacks the scope {scope} (code forbidden)."),
            },
        }
    return done


def _link(operation_id: str, description: str, **parameters: str) -> dict[str, Any]:
    return {"operationId": operation_id, "parameters": parameters, "description": description}


def add_links(paths: dict[str, Any]) -> None:
    """Link each write to the reads of what it wrote, for clients and stateful testing."""
    case = "$request.path.case_id"
    event_links = {
        "GetCase": _link("getCase", "The case the event was stored in.", case_id=case),
        "ListCaseDecisions": _link(
            "listDecisions", "The case's decisions, this one included.", case_id=case
        ),
    }
    agent = "$request.path.agent_id"
    agent_links = {"GetAgent": _link("getAgent", "The profile just stored.", agent_id=agent)}
    hook = "$request.path.webhook_id"
    webhook_links = {
        "GetWebhook": _link("getWebhook", "The endpoint just stored.", webhook_id=hook),
        "ListWebhookDeliveries": _link(
            "listWebhookDeliveries", "The endpoint's deliveries.", webhook_id=hook
        ),
        "DeleteWebhook": _link("deleteWebhook", "Remove the endpoint.", webhook_id=hook),
    }
    for path, method, links in (
        ("/v1/cases/{case_id}/events", "post", event_links),
        ("/v1/agents/{agent_id}", "put", agent_links),
        ("/v1/webhooks/{webhook_id}", "put", webhook_links),
    ):
        for status in ("200", "201"):
            paths[path][method]["responses"][status]["links"] = links


def error_codes() -> dict[str, Any]:
    """Return the ProblemV1 ``code`` property: every code, each with when it is answered."""
    listed = "\n".join(f"- `{code}`: {code.description}" for code in ErrorCode)
    return {
        "type": "string",
        "enum": [str(code) for code in ErrorCode],
        "description": f"Stable snake_case error code, one of:\n\n{listed}",
    }


@bp.get("/openapi.json")
def openapi() -> dict[str, Any]:
    """Return the OpenAPI document."""
    document: dict[str, Any] = current_app.extensions["openapi"]
    return document


# Webhooks (docs/webhooks.md).
SCHEMAS.update(
    {
        "WebhookRequestV1": hooks.WebhookRequestV1Schema,
        "WebhookV1": hooks.WebhookV1Schema,
        "WebhookCreatedV1": hooks.WebhookCreatedV1Schema,
        "WebhookListV1": hooks.WebhookListV1Schema,
        "DeliveryV1": hooks.DeliveryV1Schema,
        "DeliveryPageV1": hooks.DeliveryPageV1Schema,
    }
)
_WEBHOOK_ID = _path_param("webhook_id", "The endpoint's id, chosen by the caller.")
_ADMIN: dict[str, Any] = {}  # 401 and 403 are added to every protected operation
PATHS.update(
    {
        "/v1/webhooks": {
            "get": {
                "summary": "Every registered webhook endpoint, without secrets.",
                "operationId": "listWebhooks",
                "responses": {
                    **_ADMIN,
                    "200": {"description": "The endpoints.", "content": _json("WebhookListV1")},
                },
            }
        },
        "/v1/webhooks/{webhook_id}": {
            "put": {
                "summary": "Register or replace an endpoint that receives decisions.",
                "description": (
                    "Decisions are POSTed to `url`, signed after the Standard Webhooks "
                    "specification (headers webhook-id = the decision id, webhook-timestamp, "
                    "webhook-signature) with the endpoint's secret. Without `secret`, creation "
                    "generates one and returns it in this 201 answer only; replacing keeps the "
                    "secret unless a new one is sent, and re-enables a disabled endpoint. Body: "
                    '`{"type": "decision.created" | "decision.time_driven", "timestamp", '
                    '"data": <the decision as GET /v1/decisions shows it>}`. Failed attempts '
                    "are retried for about a day; a 410 answer disables the endpoint."
                ),
                "operationId": "putWebhook",
                "parameters": [_WEBHOOK_ID],
                "requestBody": {"required": True, "content": _json("WebhookRequestV1")},
                "responses": {
                    **_ADMIN,
                    "201": {
                        "description": "Created; `secret` present when it was generated.",
                        "content": _json("WebhookCreatedV1"),
                    },
                    "200": {"description": "Replaced.", "content": _json("WebhookCreatedV1")},
                    **BAD_INPUT,
                },
            },
            "get": {
                "summary": "An endpoint, without its secret; whether it is enabled and why not.",
                "operationId": "getWebhook",
                "parameters": [_WEBHOOK_ID],
                "responses": {
                    **_ADMIN,
                    "200": {"description": "The endpoint.", "content": _json("WebhookV1")},
                    "404": _problem("webhook_not_found."),
                },
            },
            "delete": {
                "summary": "Remove an endpoint; its pending deliveries are cancelled.",
                "operationId": "deleteWebhook",
                "parameters": [_WEBHOOK_ID],
                "responses": {
                    **_ADMIN,
                    "204": {"description": "Removed."},
                    "404": _problem("webhook_not_found."),
                },
            },
        },
        "/v1/webhooks/{webhook_id}/deliveries": {
            "get": {
                "summary": "An endpoint's deliveries, newest first, with every attempt.",
                "operationId": "listWebhookDeliveries",
                "parameters": [
                    _WEBHOOK_ID,
                    _query("status", "string", "The status.", enum=list(hooks.DELIVERY_STATUSES)),
                    _query(
                        "before",
                        "integer",
                        "Cursor: next_before of the previous page.",
                        minimum=1,
                        maximum=MAX_CURSOR,
                    ),
                    _query(
                        "limit", "integer", "Page size (default 50).", minimum=1, maximum=200
                    ),
                ],
                "responses": {
                    **_ADMIN,
                    "200": {"description": "A page.", "content": _json("DeliveryPageV1")},
                    "404": _problem("webhook_not_found."),
                    "422": BAD_INPUT["422"],
                },
            }
        },
        "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver": {
            "post": {
                "summary": "Queue a delivery once more, due now, with the same webhook-id.",
                "operationId": "redeliverWebhook",
                "parameters": [_WEBHOOK_ID, _path_param("delivery_id", "The delivery's id.")],
                "responses": {
                    **_ADMIN,
                    "202": {"description": "Queued.", "content": _json("DeliveryV1")},
                    "404": _problem("webhook_not_found or delivery_not_found."),
                    "409": _problem("webhook_disabled: PUT the endpoint again to enable it."),
                },
            }
        },
    }
)

# Operations: the /ops page, its data, and /docs (docs/pages.md).
SCHEMAS.update(
    {
        "EscalationStatsV1": wire.EscalationStatsV1Schema,
        "LatestDecisionsPageV1": wire.LatestDecisionsPageV1Schema,
        "DueTimersV1": wire.DueTimersV1Schema,
        "FailingDeliveriesV1": wire.FailingDeliveriesV1Schema,
    }
)


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def _duration(name: str, description: str, default: str) -> dict[str, Any]:
    return {
        **_query(name, "string", description),
        "schema": {"type": "string", "pattern": wire.DURATION.pattern, "default": default},
        "example": default,
    }


PATHS.update(
    {
        "/v1/stats/escalations": {
            "get": {
                "tags": ["operations"],
                "summary": "The escalation rate over time and by rule, from every stored decision.",
                "description": (
                    "Counts decisions by when they were received, in buckets of `bucket` that "
                    "start on whole multiples of its width (whole hours for 1h), reaching back "
                    "at least `window`; at most 744 buckets. `by_rule` counts, per rule, the "
                    "decisions it matched and how many of them escalated."
                ),
                "operationId": "getEscalationStats",
                "parameters": [
                    _duration("window", "How far back: 1h to 31d, e.g. 24h or 7d.", "24h"),
                    _duration("bucket", "Width of one bucket: 1m to 1d, e.g. 1h.", "1h"),
                ],
                "responses": {
                    "200": {"description": "The counts.", "content": _json("EscalationStatsV1")},
                    "422": BAD_INPUT["422"],
                },
            }
        },
        "/v1/decisions/latest": {
            "get": {
                "tags": ["decisions"],
                "summary": "Stored decisions, newest first, filtered by case, customer, outcome.",
                "operationId": "listLatestDecisions",
                "parameters": [
                    _query("case_id", "string", "Only this case."),
                    _query("customer_id", "string", "Only this customer."),
                    _query("outcome", "string", "escalate, route or none."),
                    _query("before", "integer", "Cursor: next_before of the previous page."),
                    _query("limit", "integer", "Page size, 1-200 (default 20)."),
                ],
                "responses": {
                    "200": {
                        "description": "A page of decisions, as GET /v1/decisions shows them.",
                        "content": _json("LatestDecisionsPageV1"),
                    },
                    "422": BAD_INPUT["422"],
                },
            }
        },
        "/v1/timers": {
            "get": {
                "tags": ["operations"],
                "summary": "Pending timer deadlines due soon, overdue ones first, soonest first.",
                "operationId": "listDueTimers",
                "parameters": [
                    _duration("due_within", "Due before now plus this: 1m to 31d.", "24h"),
                    _query("limit", "integer", "At most this many, 1-200 (default 50)."),
                ],
                "responses": {
                    "200": {"description": "The deadlines.", "content": _json("DueTimersV1")},
                    "422": BAD_INPUT["422"],
                },
            }
        },
        "/v1/webhook-deliveries": {
            "get": {
                "tags": ["operations"],
                "summary": "Webhook deliveries of every endpoint that failed or are being "
                "retried, newest first, without their payloads.",
                "operationId": "listFailingDeliveries",
                "parameters": [
                    {
                        **_query("status", "string", "failing (default), failed or retrying."),
                        "schema": {"type": "string", "enum": list(wire.FAILING_STATUSES)},
                    },
                    _query("before", "integer", "Cursor: next_before of the previous page."),
                    _query("limit", "integer", "Page size, 1-200 (default 50)."),
                ],
                "responses": {
                    "200": {"description": "A page.", "content": _json("FailingDeliveriesV1")},
                    "422": BAD_INPUT["422"],
                },
            }
        },
        "/ops": {
            "get": {
                "tags": ["pages"],
                "summary": "The operations page (HTML): it asks for an API key and reads the "
                "endpoints above with it; it holds no data itself.",
                "operationId": "opsPage",
                "responses": {"200": _html("The page.")},
            }
        },
        "/docs": {
            "get": {
                "tags": ["pages"],
                "summary": "This API reference (HTML), rendered from /openapi.json.",
                "operationId": "docsPage",
                "responses": {"200": _html("The page.")},
            }
        },
    }
)
