"""Wire types of webhooks: endpoint registrations in, endpoints and deliveries out."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from schemas.common import Choice, StrictSchema, string
from service.webhooks import rules

DELIVERY_STATUSES = ("pending", "delivered", "failed", "cancelled")


def _check(problem: Any) -> Any:
    def check(value: str) -> None:
        found = problem(value)
        if found:
            raise ValidationError(found)

    return check


class WebhookRequestV1Schema(StrictSchema):
    """PUT /v1/webhooks/{id}: where to send decisions, the signing secret, which decisions."""

    url = string(
        required=True,
        validate=_check(rules.url_problem),
        metadata={"description": "http or https URL without credentials; redirects not followed."},
    )
    secret = string(
        validate=_check(rules.secret_problem),
        metadata={
            "description": "Standard Webhooks secret, whsec_ + base64 of 24 to 64 bytes. When "
            "omitted on creation, one is generated and returned once; on replacement, the "
            "current secret is kept."
        },
    )
    events = string(
        load_default="all",
        validate=Choice(rules.EVENT_FILTERS, "event filter"),
        metadata={
            "description": "all (default); escalations: decisions whose outcome is escalate; "
            "time_driven: decisions made by a timer, with no event from the caller."
        },
    )


class WebhookV1Schema(Schema):
    """A registered endpoint; the secret is never shown again."""

    id = fields.String()
    url = fields.String()
    events = fields.String(metadata={"description": "all, escalations or time_driven."})
    enabled = fields.Boolean(
        metadata={"description": "false once the receiver answered 410 Gone; PUT re-enables."}
    )
    disabled_reason = fields.String(allow_none=True)
    disabled_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class WebhookCreatedV1Schema(WebhookV1Schema):
    """The answer to a PUT: the endpoint, with the secret only when it was just generated."""

    secret = fields.String(
        metadata={"description": "Shown once, in the 201 answer that generated it."}
    )


class WebhookListV1Schema(Schema):
    """GET /v1/webhooks: every registered endpoint, by id."""

    webhooks = fields.List(fields.Nested(WebhookV1Schema))


class DeliveryAttemptV1Schema(Schema):
    """One attempt to deliver: when, what the receiver answered (or the error), how long."""

    at = fields.String()
    status_code = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True, metadata={"description": "timeout or network error."})
    duration_ms = fields.Float()


class DeliveryV1Schema(Schema):
    """One decision on its way to one endpoint."""

    delivery_id = fields.String()
    webhook_id = fields.String()
    decision_id = fields.String(metadata={"description": "Also the webhook-id header."})
    type = fields.String(metadata={"description": "decision.created or decision.time_driven."})
    status = fields.String(metadata={"description": "pending, delivered, failed or cancelled."})
    attempts = fields.List(fields.Nested(DeliveryAttemptV1Schema))
    next_attempt_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class DeliveryQueryV1Schema(StrictSchema):
    """Filters of GET /v1/webhooks/{id}/deliveries."""

    status = string(validate=Choice(DELIVERY_STATUSES, "status"))
    # Query strings carry text, so these integers are parsed from it.
    before = fields.Integer(
        validate=validate.Range(1, error="expected 1 or more"),
        error_messages={"invalid": "expected a whole number"},
        metadata={"description": "Cursor: next_before of the previous page."},
    )
    limit = fields.Integer(
        load_default=50,
        validate=validate.Range(1, 200, error="limit lies between 1 and 200"),
        error_messages={"invalid": "expected a whole number"},
    )


class DeliveryPageV1Schema(Schema):
    """A page of deliveries, newest first."""

    deliveries = fields.List(fields.Nested(DeliveryV1Schema))
    next_before = fields.Integer(
        allow_none=True, metadata={"description": "Pass as before= for the next page."}
    )
