"""POST /v1/evaluate: a stateless dry run of one event against a case snapshot."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from schemas.api import (
    CaseSnapshotV1Schema,
    DecisionV1Schema,
    EvaluateQueryV1Schema,
    EvaluateRequestV1Schema,
    ExplainedDecisionV1Schema,
)
from service import decide
from service.api import body
from service.api.context import caller, services
from service.cases.model import Snapshot
from service.decision_log import record

bp = Blueprint("evaluate", __name__)
# Reused: building a schema costs more than loading or dumping with it.
REQUEST_V1 = EvaluateRequestV1Schema()
SNAPSHOT_V1 = CaseSnapshotV1Schema()
DECISION_V1 = DecisionV1Schema()
EXPLAINED_V1 = ExplainedDecisionV1Schema()
QUERY_V1 = EvaluateQueryV1Schema()


@bp.post("/v1/evaluate")
def evaluate_event() -> dict[str, Any]:
    """Decide on one event given a case snapshot; store nothing; explain=full says why not."""
    full = body.validate(QUERY_V1, request.args.to_dict()).get("explain") == "full"
    raw = body.json_body()
    payload = body.validate(REQUEST_V1, raw)
    snapshot = payload["case"]
    if not isinstance(snapshot, Snapshot):
        snapshot = SNAPSHOT_V1.load(snapshot)
    event = payload["event"]
    svc = services()
    evaluation = decide.evaluate(
        svc.policies.current,
        snapshot,
        event,
        case_id=snapshot.case.case_id,
        explain_misses=full,
    )
    result: dict[str, Any] = (EXPLAINED_V1 if full else DECISION_V1).dump(evaluation.decision)
    svc.decision_log.write(
        record(
            result,
            raw["event"],
            caller=caller(),
            customer_id=evaluation.after.customer.id,
            dry_run=True,
            mask=svc.decision_log.mask_text,
        )
    )
    return result
