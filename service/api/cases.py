"""Cases: POST /v1/cases/{case_id}/events and GET /v1/cases/{case_id}."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from schemas.api import CaseEventV1Schema, CaseV1Schema
from service.api import body
from service.api.codes import ErrorCode
from service.api.context import caller, services
from service.api.errors import ApiError
from service.decision_log import record
from service.ingest import CustomerMismatch, IdempotencyConflict, StoreBusy, ingest
from service.store import repository as repo

bp = Blueprint("cases", __name__)
EVENT_V1 = CaseEventV1Schema()  # reused: building a schema costs more than loading with it


@bp.post("/v1/cases/<case_id>/events")
def post_event(case_id: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Decide on one case event and store both; a repeated event_id returns the stored decision."""
    body.path_id("case_id", case_id)
    raw = body.json_body()
    event = body.validate(EVENT_V1, raw)
    svc = services()
    try:
        ingested = ingest(
            svc.store, svc.policies.current, case_id, event, raw, caller(), clock=svc.clock
        )
    except IdempotencyConflict as exc:
        raise ApiError(
            409, ErrorCode.IDEMPOTENCY_CONFLICT, "The event id is already used", str(exc)
        ) from exc
    except CustomerMismatch as exc:
        raise ApiError(
            409, ErrorCode.CASE_CUSTOMER_MISMATCH, "The case has another customer", str(exc)
        ) from exc
    except StoreBusy as exc:
        raise ApiError(
            503, ErrorCode.STORE_BUSY, "Try again", str(exc), extra={"retry_after": 1}
        ) from exc
    if not ingested.duplicate:
        svc.decision_log.write(
            record(
                ingested.decision,
                raw,
                caller=caller(),
                customer_id=ingested.customer_id,
                dry_run=False,
                mask=svc.decision_log.mask_text,
            )
        )
        svc.outbox.written(ingested.seq)
    status = 200 if ingested.duplicate else 201
    return ingested.decision, status, {"Location": f"/v1/cases/{case_id}"}


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
    dumped: dict[str, Any] = CaseV1Schema().dump(view)
    return dumped
