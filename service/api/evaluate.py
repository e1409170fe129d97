"""POST /v1/evaluate: a stateless dry run of one event against a case snapshot."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from schemas.api import CaseSnapshotV1Schema, DecisionV1Schema, EvaluateRequestV1Schema
from service import decide
from service.api import body
from service.api.context import services
from service.cases.model import Snapshot
from service.decision_log import record

bp = Blueprint("evaluate", __name__)


def caller() -> str:
    """Name the caller for the decision log: X-Caller-Id, else the client address."""
    return request.headers.get("X-Caller-Id", "")[:200] or (request.remote_addr or "unknown")


@bp.post("/v1/evaluate")
def evaluate_event() -> dict[str, Any]:
    """Decide on one event given a case snapshot; store nothing."""
    payload = body.load(EvaluateRequestV1Schema())
    snapshot = payload["case"]
    if not isinstance(snapshot, Snapshot):
        snapshot = CaseSnapshotV1Schema().load(snapshot)
    event = payload["event"]
    svc = services()
    evaluation = decide.evaluate(
        svc.policies.current, snapshot, event, case_id=snapshot.case.case_id
    )
    result: dict[str, Any] = DecisionV1Schema().dump(evaluation.decision)
    svc.decision_log.write(
        record(
            evaluation.decision,
            event,
            caller=caller(),
            customer_id=evaluation.after.customer.id,
            dry_run=True,
            mask=svc.decision_log.mask_text,
            result=result,
        )
    )
    return result
