"""GET /openapi.json: the API contract, generated from the wire schemas."""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, current_app

from schemas import api as wire

bp = Blueprint("openapi", __name__)

API_VERSION = "1.0.0"
DESCRIPTION = """\
Decide when a support case leaves the frontline agent's hands.

Ticketing systems send case events; the service answers with a routing and
escalation decision and the reasons for it. Every error is an RFC 9457
problem document (`application/problem+json`) with a stable snake_case
`code` and, for invalid requests, one entry per field in `errors`.
"""

SCHEMAS = {
    "EventV1": wire.EventV1Schema,
    "CaseSnapshotV1": wire.CaseSnapshotV1Schema,
    "EvaluateRequestV1": wire.EvaluateRequestV1Schema,
    "DecisionV1": wire.DecisionV1Schema,
    "ProblemV1": wire.ProblemV1Schema,
    "RulesetV1": wire.RulesetV1Schema,
    "ValidationResultV1": wire.ValidationResultV1Schema,
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

PATHS: dict[str, dict[str, Any]] = {
    "/v1/evaluate": {
        "post": {
            "summary": "Dry run: decide on one event given a case snapshot; nothing is stored.",
            "operationId": "evaluate",
            "requestBody": {"required": True, "content": _json("EvaluateRequestV1")},
            "responses": {
                "200": {"description": "The decision.", "content": _json("DecisionV1")},
                **BAD_INPUT,
            },
        }
    },
    "/v1/rules": {
        "get": {
            "summary": "The active rule set: revision, load time, files and rules.",
            "operationId": "getRules",
            "responses": {
                "200": {"description": "The active rule set.", "content": _json("RulesetV1")}
            },
        }
    },
    "/v1/rules/validate": {
        "post": {
            "summary": "Validate the rule files on disk without activating them.",
            "operationId": "validateRules",
            "responses": {
                "200": {
                    "description": "Whether the files are valid, and every issue.",
                    "content": _json("ValidationResultV1"),
                }
            },
        }
    },
    "/v1/rules/reload": {
        "post": {
            "summary": "Activate the rule files on disk in every worker; "
            "the active set stays when they are invalid.",
            "operationId": "reloadRules",
            "responses": {
                "200": {"description": "The new active rule set.", "content": _json("RulesetV1")},
                "401": _problem("Admin token missing or wrong (code unauthorized)."),
                "422": _problem(
                    "The files are not valid (code rules_invalid); `issues` lists every problem."
                ),
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
}


def build_spec(extra_paths: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
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
    for path, operations in {**PATHS, **(extra_paths or {})}.items():
        spec.path(path=path, operations=operations)
    document: dict[str, Any] = spec.to_dict()
    return document


@bp.get("/openapi.json")
def openapi() -> dict[str, Any]:
    """Return the OpenAPI document."""
    document: dict[str, Any] = current_app.extensions["openapi"]
    return document
