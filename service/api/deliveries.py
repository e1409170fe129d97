"""GET /v1/webhook-deliveries: webhook deliveries failing across every endpoint."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from schemas.api import FailingDeliveriesQueryV1Schema, FailingDeliveriesV1Schema
from service.api import body
from service.api.context import services
from service.store import ops

bp = Blueprint("deliveries", __name__)
# Reused: building a schema costs more than loading or dumping with it.
FAILING_DELIVERIES_QUERY_V1 = FailingDeliveriesQueryV1Schema()
FAILING_DELIVERIES_V1 = FailingDeliveriesV1Schema()


@bp.get("/v1/webhook-deliveries")
def failing_deliveries() -> dict[str, Any]:
    """Return deliveries that failed or are being retried, newest first, without payloads."""
    query = body.validate(FAILING_DELIVERIES_QUERY_V1, request.args.to_dict())
    with services().store.read() as conn:
        found = ops.failing_deliveries(conn, query["status"], query.get("before"), query["limit"])
    page: dict[str, Any] = FAILING_DELIVERIES_V1.dump(
        {
            "deliveries": found,
            "next_before": found[-1].seq if len(found) == query["limit"] else None,
        }
    )
    return page
