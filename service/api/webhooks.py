"""Webhooks: register endpoints, list their deliveries, redeliver one."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from schemas.webhooks import (
    DeliveryPageV1Schema,
    DeliveryQueryV1Schema,
    DeliveryV1Schema,
    WebhookCreatedV1Schema,
    WebhookListV1Schema,
    WebhookRequestV1Schema,
    WebhookV1Schema,
)
from service.api import body
from service.api.codes import ErrorCode
from service.api.context import services
from service.api.errors import ApiError
from service.store import webhooks as db
from service.webhooks import outbox, rules

# Every route needs rules:admin (service/api/auth.py): endpoints choose where decisions go.
bp = Blueprint("webhooks", __name__)
# Reused: building a schema costs more than loading or dumping with it.
DELIVERY_V1 = DeliveryV1Schema()
WEBHOOK_REQUEST_V1 = WebhookRequestV1Schema()
WEBHOOK_CREATED_V1 = WebhookCreatedV1Schema()
WEBHOOK_V1 = WebhookV1Schema()
WEBHOOK_LIST_V1 = WebhookListV1Schema()
DELIVERY_QUERY_V1 = DeliveryQueryV1Schema()
DELIVERY_PAGE_V1 = DeliveryPageV1Schema()


def _not_found(webhook_id: str) -> ApiError:
    return ApiError(404, ErrorCode.WEBHOOK_NOT_FOUND, "No such webhook", f"no webhook {webhook_id}")


def _delivery(delivery: db.Delivery, webhook_id: str) -> dict[str, Any]:
    dumped: dict[str, Any] = DELIVERY_V1.dump({**delivery.__dict__, "webhook_id": webhook_id})
    return dumped


@bp.put("/v1/webhooks/<webhook_id>")
def put_webhook(webhook_id: str) -> tuple[dict[str, Any], int]:
    """Register or replace an endpoint; a generated secret is returned this once."""
    webhook_id = body.path_id("webhook_id", webhook_id)
    data = body.load(WEBHOOK_REQUEST_V1)
    store = services().store
    with store.write() as conn:
        existing = db.get_endpoint(conn, webhook_id)
        generated = rules.new_secret() if existing is None and "secret" not in data else None
        endpoint, created = db.put_endpoint(
            conn,
            webhook_id,
            data["url"],
            data.get("secret") or generated,
            data["events"],
            services().clock(),
        )
    outbox.forget(store.engine)
    shown = {k: v for k, v in endpoint.__dict__.items() if k != "secret"}
    if generated:
        shown["secret"] = generated  # the only time it is shown
    answer: dict[str, Any] = WEBHOOK_CREATED_V1.dump(shown)
    return answer, 201 if created else 200


@bp.get("/v1/webhooks/<webhook_id>")
def get_webhook(webhook_id: str) -> dict[str, Any]:
    """Return an endpoint, without its secret."""
    with services().store.read() as conn:
        endpoint = db.get_endpoint(conn, body.path_id("webhook_id", webhook_id))
    if endpoint is None:
        raise _not_found(webhook_id)
    dumped: dict[str, Any] = WEBHOOK_V1.dump(endpoint)
    return dumped


@bp.delete("/v1/webhooks/<webhook_id>")
def delete_webhook(webhook_id: str) -> tuple[str, int]:
    """Remove an endpoint; its pending deliveries are cancelled."""
    store = services().store
    with store.write() as conn:
        found = db.delete_endpoint(conn, body.path_id("webhook_id", webhook_id), services().clock())
    if not found:
        raise _not_found(webhook_id)
    outbox.forget(store.engine)
    return "", 204


@bp.get("/v1/webhooks")
def list_webhooks() -> dict[str, Any]:
    """Return every registered endpoint, without secrets."""
    with services().store.read() as conn:
        endpoints = db.list_endpoints(conn)
    dumped: dict[str, Any] = WEBHOOK_LIST_V1.dump({"webhooks": endpoints})
    return dumped


@bp.get("/v1/webhooks/<webhook_id>/deliveries")
def list_deliveries(webhook_id: str) -> dict[str, Any]:
    """Return an endpoint's deliveries, newest first, with every attempt."""
    webhook_id = body.path_id("webhook_id", webhook_id)
    query = body.validate(DELIVERY_QUERY_V1, request.args.to_dict())
    with services().store.read() as conn:
        endpoint = db.get_endpoint(conn, webhook_id)
        if endpoint is None:
            raise _not_found(webhook_id)
        found = db.list_deliveries(
            conn,
            endpoint.seq,
            status=query.get("status"),
            before=query.get("before"),
            limit=query["limit"],
        )
    page: dict[str, Any] = DELIVERY_PAGE_V1.dump(
        {
            "deliveries": [{**d.__dict__, "webhook_id": webhook_id} for d in found],
            "next_before": found[-1].seq if len(found) == query["limit"] else None,
        }
    )
    return page


@bp.post("/v1/webhooks/<webhook_id>/deliveries/<delivery_id>/redeliver")
def redeliver(webhook_id: str, delivery_id: str) -> tuple[dict[str, Any], int]:
    """Queue a delivery once more, due now, with the same webhook-id."""
    webhook_id = body.path_id("webhook_id", webhook_id)
    delivery_id = body.path_id("delivery_id", delivery_id)
    with services().store.write() as conn:
        endpoint = db.get_endpoint(conn, webhook_id)
        if endpoint is None:
            raise _not_found(webhook_id)
        if not endpoint.enabled:
            raise ApiError(
                409,
                ErrorCode.WEBHOOK_DISABLED,
                "The webhook is disabled",
                f"webhook {webhook_id} is disabled ({endpoint.disabled_reason}); "
                "PUT it again to enable it",
            )
        delivery = db.get_delivery(conn, endpoint.seq, delivery_id)
        if delivery is None:
            raise ApiError(
                404,
                ErrorCode.DELIVERY_NOT_FOUND,
                "No such delivery",
                f"webhook {webhook_id} has no delivery {delivery_id}",
            )
        db.requeue(conn, delivery.seq, services().clock())
        delivery = db.get_delivery(conn, endpoint.seq, delivery_id)
    assert delivery is not None
    return _delivery(delivery, webhook_id), 202
