"""GET /v1/decisions/latest: the newest stored decisions first, by case, customer or outcome."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from schemas.api import LatestDecisionsPageV1Schema, LatestDecisionsQueryV1Schema
from service.api import body
from service.api.context import services
from service.api.decisions import stored_decision
from service.store import ops

bp = Blueprint("latest_decisions", __name__)
# Reused: building a schema costs more than loading or dumping with it.
LATEST_DECISIONS_QUERY_V1 = LatestDecisionsQueryV1Schema()
LATEST_DECISIONS_PAGE_V1 = LatestDecisionsPageV1Schema()


@bp.get("/v1/decisions/latest")
def latest_decisions() -> dict[str, Any]:
    """Return a page of stored decisions, newest first; follow next_before for older ones."""
    query = body.validate(LATEST_DECISIONS_QUERY_V1, request.args.to_dict())
    with services().store.read() as conn:
        rows = ops.latest_decisions(
            conn,
            case_id=query.get("case_id"),
            customer_id=query.get("customer_id"),
            outcome=query.get("outcome"),
            before=query.get("before"),
            limit=query["limit"],
        )
    page: dict[str, Any] = LATEST_DECISIONS_PAGE_V1.dump(
        {
            # The same form as GET /v1/decisions, so masking applies alike.
            "decisions": [stored_decision(row, customer=True) for _, row in rows],
            "next_before": rows[-1][0] if len(rows) == query["limit"] else None,
        }
    )
    return page
