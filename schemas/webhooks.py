"""Wire types of webhooks: endpoint registrations in, endpoints and deliveries out."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from urllib.parse import urlsplit

from marshmallow import Schema, ValidationError, fields, validate

from schemas.common import Choice, StrictSchema, cursor, string

DELIVERY_STATUSES = ("pending", "delivered", "failed", "cancelled")
EVENT_FILTERS = ("all", "escalations", "time_driven")
SECRET_PREFIX = "whsec_"
SECRET_BYTES = (24, 64)
MAX_URL = 2000


def url_problem(url: str) -> str | None:
    """Return why ``url`` cannot receive webhooks, or None when it can."""
    if len(url) > MAX_URL:
        return f"must be at most {MAX_URL} characters"
    if any(c.isspace() or ord(c) < 0x20 for c in url):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError:
        return "is not a valid URL"
    del port
    if parts.scheme not in ("http", "https"):
        return "must be an http or https URL"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials; the requests are signed with the secret instead"
    if not parts.hostname:
        return "must name a host"
    return None


def secret_problem(secret: str) -> str | None:
    """Return why ``secret`` is not a Standard Webhooks secret (whsec_<base64>), or None."""
    if not secret.startswith(SECRET_PREFIX):
        return f'must start with "{SECRET_PREFIX}" followed by base64'
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        return f'must be "{SECRET_PREFIX}" followed by valid base64'
    low, high = SECRET_BYTES
    if not low <= len(key) <= high:
        return f"must encode {low} to {high} bytes, not {len(key)}"
    return None


def _check(problem: Callable[[str], str | None]) -> Callable[[str], None]:
    def check(value: str) -> None:
        found = problem(value)
        if found:
            raise ValidationError(found)

    return check


class WebhookRequestV1Schema(StrictSchema):
    """PUT /v1/webhooks/{id}: where to send decisions, the signing secret, which decisions."""

    url = string(
        required=True,
        validate=_check(url_problem),
        metadata={
            "description": "http or https URL without credentials; redirects not followed.",
            "maxLength": MAX_URL,
            # A subset of what url_problem accepts, so that documented URLs are accepted.
            "pattern": r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,4})?(/[!-~]*)?$",
        },
    )
    secret = string(
        validate=_check(secret_problem),
        metadata={
            "pattern": r"^whsec_[A-Za-z0-9+/]{32,88}={0,2}$",
            "description": "Standard Webhooks secret, whsec_ + base64 of 24 to 64 bytes. When "
            "omitted on creation, one is generated and returned once; on replacement, the "
            "current secret is kept."
        },
    )
    events = string(
        load_default="all",
        validate=Choice(EVENT_FILTERS, "event filter", echo=False),
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

    status = string(validate=Choice(DELIVERY_STATUSES, "status", echo=False))
    # Query strings carry text, so these integers are parsed from it.
    before = cursor(1, "Cursor: next_before of the previous page.")
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
