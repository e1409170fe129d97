"""The rule set: GET /v1/rules, validate, reload, activate, and the revision history."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request

from schemas.activation import (
    ActivatedV1Schema,
    ActivateRequestV1Schema,
    ActiveRulesetV1Schema,
    ReloadQueryV1Schema,
    RevisionsPageV1Schema,
    RevisionsQueryV1Schema,
    ValidateRequestV1Schema,
)
from schemas.api import RuleIssueV1Schema, ValidationResultV1Schema
from service import activation
from service.api import body
from service.api.codes import ErrorCode
from service.api.context import caller, services
from service.api.errors import ApiError
from service.policy import Policy, check
from service.ruleset.bundle import Bundle
from service.ruleset.issues import InvalidFiles
from service.store import rules as rules_store

bp = Blueprint("rules", __name__)
# Reused: building a schema costs more than loading or dumping with it.
ACTIVE_RULESET_V1 = ActiveRulesetV1Schema()
VALIDATION_RESULT_V1 = ValidationResultV1Schema()
ACTIVATED_V1 = ActivatedV1Schema()
REVISIONS_PAGE_V1 = RevisionsPageV1Schema()
ACTIVATE_V1 = ActivateRequestV1Schema()
VALIDATE_V1 = ValidateRequestV1Schema()
ISSUES_V1 = RuleIssueV1Schema(many=True)
RELOAD_QUERY_V1 = ReloadQueryV1Schema()
REVISIONS_QUERY_V1 = RevisionsQueryV1Schema()


def _summary(policy: Policy) -> dict[str, Any]:
    return {
        "revision": policy.revision,
        "loaded_at": policy.loaded_at,
        "files": policy.ruleset.files,
        "rules": policy.ruleset.rules,
        "signals": sorted(policy.detector.lexicon.signals),
        "languages": sorted(policy.detector.lexicon.languages),
    }


def _bundle_body(schema: Any) -> dict[str, Any]:
    """Read a body that may carry a whole bundle: its own, larger size limit."""
    request.max_content_length = current_app.config["BUNDLE_MAX_BYTES"]
    payload: dict[str, Any] = body.validate(schema, body.json_body())
    return payload


def _invalid(exc: InvalidFiles, active: str) -> ApiError:
    return ApiError(
        422,
        ErrorCode.RULES_INVALID,
        "The rule files are not valid",
        f"{len(exc.issues)} problem(s) found; the active rule set ({active}) stays in force",
        extra={
            "issues": ISSUES_V1.dump([i.as_dict() for i in exc.issues]),
            "active_revision": active,
        },
    )


@bp.get("/v1/rules")
def active_rules() -> dict[str, Any]:
    """Return the rule set this worker serves, the active revision and the last failure."""
    svc = services()
    with svc.store.read() as conn:
        active = rules_store.active(conn)
        failure = rules_store.last_failure(conn)
        activated_at = rules_store.activated_at(conn)
    policy = svc.policies.current
    result: dict[str, Any] = ACTIVE_RULESET_V1.dump(
        {
            **_summary(policy),
            "active_revision": active.revision if active else policy.revision,
            "activated_at": activated_at,
            "last_failure": failure,
        }
    )
    return result


@bp.post("/v1/rules/validate")
def validate_rules() -> dict[str, Any]:
    """Validate a bundle sent in the body, or the files on disk; activate nothing."""
    svc = services()
    if request.content_length or request.is_json:
        bundle = Bundle.from_text(_bundle_body(VALIDATE_V1)["files"])
        source: Any = bundle
    else:
        source = svc.policies.seed_dir
    try:
        checked = check(source)
    except InvalidFiles as exc:
        issues = ISSUES_V1.dump([i.as_dict() for i in exc.issues])
        return {"valid": False, "revision": None, "issues": issues}
    result: dict[str, Any] = VALIDATION_RESULT_V1.dump(
        {"valid": True, "revision": checked.revision, "issues": []}
    )
    return result


def _activate(candidate: Policy, action: str, force: bool) -> dict[str, Any]:
    svc = services()
    try:
        done = activation.activate(
            svc.policies,
            candidate,
            by=caller(),
            action=action,
            force=force,
            guard=svc.guard,
            replayer=svc.replayer,
        )
    except activation.GuardRefused as exc:
        raise ApiError(
            409,
            ErrorCode.ESCALATION_RATE_GUARD,
            "The candidate would escalate too much",
            f"{exc}; activate with force to override",
            extra={"replay": exc.summary, "active_revision": svc.policies.current.revision},
        ) from exc
    with svc.store.read() as conn:
        entry = rules_store.history(conn, 1, before=done.activation_id + 1)[0]
    result: dict[str, Any] = ACTIVATED_V1.dump(
        {
            **_summary(done.policy),
            "previous_revision": done.previous_revision,
            "changed": done.changed,
            "activation": entry,
        }
    )
    return result


@bp.post("/v1/rules/reload")
def reload_rules() -> dict[str, Any]:
    """Validate, compile and activate the rule files on disk for every worker and server."""
    force = body.validate(RELOAD_QUERY_V1, request.args.to_dict())["force"]
    svc = services()
    holder = svc.policies
    try:
        candidate = activation.candidate_policy(holder, Bundle.from_directory(holder.seed_dir))
    except InvalidFiles as exc:
        activation.failed(holder, exc, action="reload", by=caller())
        raise _invalid(exc, holder.current.revision) from exc
    return _activate(candidate, "reload", force)


@bp.post("/v1/rules/activate")
def activate_rules() -> dict[str, Any]:
    """Activate a bundle sent in the body, or roll back to an earlier revision by id."""
    payload = _bundle_body(ACTIVATE_V1)
    holder = services().policies
    if "revision" in payload:
        try:
            candidate = activation.stored_policy(holder, payload["revision"])
        except activation.UnknownRevision as exc:
            raise ApiError(
                404,
                ErrorCode.REVISION_NOT_FOUND,
                "No such revision",
                f"no bundle with revision {payload['revision']} was ever activated here",
            ) from exc
        action = "rollback"
    else:
        try:
            candidate = activation.candidate_policy(holder, Bundle.from_text(payload["files"]))
        except InvalidFiles as exc:
            activation.failed(holder, exc, action="activate", by=caller())
            raise _invalid(exc, holder.current.revision) from exc
        action = "activate"
    return _activate(candidate, action, payload["force"])


@bp.get("/v1/rules/revisions")
def revisions() -> dict[str, Any]:
    """Return the activation history, newest first."""
    query = body.validate(REVISIONS_QUERY_V1, request.args.to_dict())
    limit, before = query["limit"], query.get("before")
    with services().store.read() as conn:
        entries = rules_store.history(conn, limit, before=before)
    page = {
        "activations": entries,
        "next_before": entries[-1].id if len(entries) == limit else None,
    }
    result: dict[str, Any] = REVISIONS_PAGE_V1.dump(page)
    return result
