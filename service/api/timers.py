"""GET /v1/timers: pending timer deadlines due soon, for operations staff."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from schemas.api import DueTimersQueryV1Schema, DueTimersV1Schema
from service.api import body
from service.api.context import services
from service.store import ops

bp = Blueprint("timers", __name__)
# Reused: building a schema costs more than loading or dumping with it.
DUE_TIMERS_QUERY_V1 = DueTimersQueryV1Schema()
DUE_TIMERS_V1 = DueTimersV1Schema()


@bp.get("/v1/timers")
def due_timers() -> dict[str, Any]:
    """Return pending deadlines due within the asked time (overdue ones first), soonest first."""
    query = body.validate(DUE_TIMERS_QUERY_V1, request.args.to_dict())
    now = services().clock()
    due_before = now + query["due_within"]
    with services().store.read() as conn:
        # One more than asked tells whether the list is cut short.
        found = ops.due_deadlines(conn, due_before, query["limit"] + 1)
    listed = found[: query["limit"]]
    page: dict[str, Any] = DUE_TIMERS_V1.dump(
        {
            "due_before": due_before,
            "timers": [{**d.__dict__, "overdue": d.due_at <= now} for d in listed],
            "more": len(found) > len(listed),
        }
    )
    return page
