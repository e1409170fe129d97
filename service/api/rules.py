"""The rule set: GET /v1/rules, POST /v1/rules/validate, POST /v1/rules/reload."""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, current_app, request

from schemas.api import RuleIssueV1Schema, RulesetV1Schema, ValidationResultV1Schema
from service.api.context import services
from service.api.errors import ApiError
from service.policy import Policy, build_policy
from service.ruleset.issues import InvalidFiles

bp = Blueprint("rules", __name__)


def _authorise() -> None:
    """Require the admin token for changes, when one is configured."""
    token = current_app.config.get("ADMIN_TOKEN")
    if not token:
        return
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), str(token).encode()):
        raise ApiError(
            401,
            "unauthorized",
            "Unauthorized",
            "send the admin token as Authorization: Bearer <token>",
        )


def _summary(policy: Policy) -> dict[str, Any]:
    dumped: dict[str, Any] = RulesetV1Schema().dump(
        {
            "revision": policy.revision,
            "loaded_at": policy.loaded_at,
            "files": policy.ruleset.files,
            "rules": policy.ruleset.rules,
            "signals": sorted(policy.detector.lexicon.signals),
            "languages": sorted(policy.detector.lexicon.languages),
        }
    )
    return dumped


@bp.get("/v1/rules")
def active_rules() -> dict[str, Any]:
    """Return the active rule set: revision, load time, files and rules."""
    return _summary(services().policies.current)


@bp.post("/v1/rules/validate")
def validate_rules() -> dict[str, Any]:
    """Validate the rule files as they are on disk now, without activating them."""
    holder = services().policies
    try:
        policy = build_policy(holder.root)
    except InvalidFiles as exc:
        issues = RuleIssueV1Schema(many=True).dump([i.as_dict() for i in exc.issues])
        return {"valid": False, "revision": None, "issues": issues}
    result: dict[str, Any] = ValidationResultV1Schema().dump(
        {"valid": True, "revision": policy.revision, "issues": []}
    )
    return result


@bp.post("/v1/rules/reload")
def reload_rules() -> dict[str, Any]:
    """Activate the rule files on disk in every worker; keep the old set on error."""
    _authorise()
    holder = services().policies
    previous = holder.current.revision
    try:
        policy = holder.reload()
    except InvalidFiles as exc:
        issues = RuleIssueV1Schema(many=True).dump([i.as_dict() for i in exc.issues])
        raise ApiError(
            422,
            "rules_invalid",
            "The rule files are not valid",
            f"{len(exc.issues)} problem(s) found; the active rule set ({previous}) stays in force",
            extra={"issues": issues, "active_revision": previous},
        ) from exc
    return {**_summary(policy), "previous_revision": previous}
