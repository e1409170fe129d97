"""Cases: POST /v1/cases/{case_id}/events and GET /v1/cases/{case_id}."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from marshmallow import ValidationError

from schemas.api import CaseEventV1Schema, CaseV1Schema, check_event_time
from service import metrics
from service.api import body
from service.api.auth import shown_decision
from service.api.codes import ErrorCode
from service.api.context import caller, services
from service.api.decisions import stored_decision
from service.api.errors import ApiError, validation_error
from service.api.wire import decision_wire
from service.ingest import CustomerMismatch, IdempotencyConflict, StoreBusy, ingest
from service.store import repository as repo

bp = Blueprint("cases", __name__)
# Reused: building a schema costs more than loading or dumping with it.
EVENT_V1 = CaseEventV1Schema()
CASE_V1 = CaseV1Schema(exclude=("decisions",))


@bp.post("/v1/cases/<case_id>/events")
def post_event(case_id: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Decide on one case event and store both; a repeated event_id returns the stored decision."""
    body.path_id("case_id", case_id)
    raw = body.json_body()
    event = body.validate(EVENT_V1, raw)
    svc = services()
    try:
        check_event_time(event, svc.clock())
    except ValidationError as exc:
        raise validation_error(exc) from exc
    policy = svc.policies.current
    try:
        ingested = ingest(svc.store, policy, case_id, event, raw, caller(), clock=svc.clock)
    except IdempotencyConflict as exc:
        raise ApiError(
            409, ErrorCode.IDEMPOTENCY_CONFLICT, "The event id is already used", str(exc)
        ) from exc
    except CustomerMismatch as exc:
        raise ApiError(
            409, ErrorCode.CASE_CUSTOMER_MISMATCH, "The case has another customer", str(exc)
        ) from exc
    except StoreBusy as exc:
        metrics.STORE_ERRORS.labels("busy").inc()
        raise ApiError(
            503, ErrorCode.STORE_BUSY, "Try again", str(exc), extra={"retry_after": 1}
        ) from exc
    # DecisionV1Schema's dump, written directly: the same dict.
    decision = decision_wire(ingested.decision)
    if not ingested.duplicate:
        metrics.count_decision(decision, "event")
        svc.decision_log.decision(
            decision,
            raw,
            caller=caller(),
            customer_id=ingested.customer_id,
            dry_run=False,
            readable=policy.readable,
        )
        svc.outbox.written(ingested.seq)
    status = 200 if ingested.duplicate else 201
    return shown_decision(decision), status, {"Location": f"/v1/cases/{case_id}"}


@bp.get("/v1/cases/<case_id>")
def get_case(case_id: str) -> dict[str, Any]:
    """Return the case as the service sees it: aggregates, customer, flags, decisions."""
    body.path_id("case_id", case_id)
    svc = services()
    with svc.store.read() as conn:
        view = repo.get_case(conn, case_id, svc.clock())
    if view is None:
        raise ApiError(
            404,
            ErrorCode.CASE_NOT_FOUND,
            "No such case",
            f"no event was ever stored for case {case_id}",
        )
    dumped: dict[str, Any] = CASE_V1.dump(view)
    dumped["decisions"] = [stored_decision(row, customer=False) for row in view.decisions]
    return dumped
