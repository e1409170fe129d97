"""GET /v1/decisions: the stored decisions, filtered by case, customer, rule, outcome and time."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from schemas.api import DecisionPageV1Schema, DecisionQueryV1Schema, DecisionV1Schema
from schemas.common import feed_token
from service.api import body
from service.api.auth import shown_decision
from service.api.context import services
from service.store import repository as repo

bp = Blueprint("decisions", __name__)
DECISION_QUERY_V1 = DecisionQueryV1Schema()
DECISION_PAGE_V1 = DecisionPageV1Schema()
DECISION_V1 = DecisionV1Schema()  # reused: building a schema costs more than dumping with it


def stored_decision(row: repo.DecisionRow, *, customer: bool) -> dict[str, Any]:
    """Return a stored decision as this caller may see it, with when it was received."""
    wire: dict[str, Any] = shown_decision(DECISION_V1.dump(row.decision))
    if customer:
        wire["customer_id"] = row.customer_id
    wire["received_at"] = row.received_at.isoformat()
    return wire


@bp.get("/v1/decisions")
def list_decisions() -> dict[str, Any]:
    """Return a page of stored decisions in feed order; follow next_after for the next page."""
    query = repo.DecisionQuery(**body.validate(DECISION_QUERY_V1, request.args.to_dict()))
    with services().store.read() as conn:
        rows = repo.list_decisions(conn, query)
    # An empty page hands the cursor back, so a follower polls from where it is.
    last = rows[-1][0] if rows else query.after
    page: dict[str, Any] = DECISION_PAGE_V1.dump(
        {
            "decisions": [stored_decision(row, customer=True) for _, row in rows],
            "next_after": None if last is None else feed_token(last),
            "reverse_after": feed_token(rows[0][0]) if rows else None,
            "has_more": len(rows) == query.limit,
        }
    )
    return page
