"""POST /v1/evaluate: a stateless dry run of one event against a case snapshot."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request
from marshmallow import ValidationError

from schemas.api import (
    CaseSnapshotV1Schema,
    EvaluateQueryV1Schema,
    EvaluateRequestV1Schema,
    check_event_time,
)
from service import activation, decide, metrics
from service.api import body
from service.api.auth import shown_decision
from service.api.codes import ErrorCode
from service.api.context import caller, services
from service.api.errors import ApiError, validation_error
from service.api.wire import decision_wire, explained_wire
from service.cases.model import Snapshot
from service.policy import Policy, PolicyHolder
from service.ruleset.bundle import Bundle
from service.ruleset.issues import InvalidFiles

bp = Blueprint("evaluate", __name__)
# Reused: building a schema costs more than loading or dumping with it.
REQUEST_V1 = EvaluateRequestV1Schema()
SNAPSHOT_V1 = CaseSnapshotV1Schema()
QUERY_V1 = EvaluateQueryV1Schema()


@bp.post("/v1/evaluate")
def evaluate_event() -> dict[str, Any]:
    """Decide on one event given a case snapshot; store nothing; explain=full says why not."""
    # Most calls carry no query string: nothing to validate then.
    query = body.validate(QUERY_V1, request.args.to_dict()) if request.args else {}
    full = query.get("explain") == "full"
    # A candidate bundle may ride along, lexicons and all.
    request.max_content_length = current_app.config["BUNDLE_MAX_BYTES"]
    raw = body.json_body()
    payload = body.validate(REQUEST_V1, raw)
    snapshot = payload["case"]
    if not isinstance(snapshot, Snapshot):
        snapshot = SNAPSHOT_V1.load(snapshot)
    event = payload["event"]
    svc = services()
    try:
        check_event_time(event, svc.clock())
    except ValidationError as exc:
        raise validation_error(exc, ("event",)) from exc
    policy = _policy(svc.policies, payload.get("rules"))
    evaluation = decide.evaluate(
        policy,
        snapshot,
        event,
        case_id=snapshot.case.case_id,
        now=svc.clock(),
        explain_misses=full,
    )
    # DecisionV1Schema's (ExplainedDecisionV1Schema's) dump, written directly: the same dict.
    decision = evaluation.decision
    result = explained_wire(decision) if full else decision_wire(decision)
    metrics.count_decision(result, "evaluate", candidate=policy is not svc.policies.current)
    svc.decision_log.decision(
        result,
        raw["event"],
        caller=caller(),
        customer_id=evaluation.after.customer.id,
        dry_run=True,
        readable=policy.readable,
    )
    return shown_decision(result)


def _policy(holder: PolicyHolder, candidate: dict[str, Any] | None) -> Policy:
    """Return the active policy, or the candidate revision or bundle the request names."""
    if candidate is None:
        return holder.current
    if "revision" in candidate:
        try:
            return activation.stored_policy(holder, candidate["revision"])
        except activation.UnknownRevision as exc:
            raise ApiError(
                404,
                ErrorCode.REVISION_NOT_FOUND,
                "No such revision",
                f"no bundle with revision {candidate['revision']} is stored",
            ) from exc
    try:
        return activation.candidate_policy(holder, Bundle.from_text(candidate["files"]))
    except InvalidFiles as exc:
        raise ApiError(
            422,
            ErrorCode.RULES_INVALID,
            "The candidate rule files are not valid",
            f"{len(exc.issues)} problem(s) found in rules.files",
            extra={"issues": [issue.as_dict() for issue in exc.issues]},
        ) from exc
