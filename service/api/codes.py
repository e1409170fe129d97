"""Every ``code`` a problem+json response can carry, defined once.

Raise sites use these members; the OpenAPI document lists them with their
descriptions, so the contract names every code a client may see.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """A stable snake_case error code of the API."""

    BAD_REQUEST = "bad_request"
    INVALID_JSON = "invalid_json"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CASE_NOT_FOUND = "case_not_found"
    REVISION_NOT_FOUND = "revision_not_found"
    AGENT_NOT_FOUND = "agent_not_found"
    WEBHOOK_NOT_FOUND = "webhook_not_found"
    DELIVERY_NOT_FOUND = "delivery_not_found"
    WEBHOOK_DISABLED = "webhook_disabled"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    CASE_CUSTOMER_MISMATCH = "case_customer_mismatch"
    ESCALATION_RATE_GUARD = "escalation_rate_guard"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    REQUEST_TIMEOUT = "request_timeout"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    VALIDATION_FAILED = "validation_failed"
    RULES_INVALID = "rules_invalid"
    INTERNAL_ERROR = "internal_error"
    ENGINE_ERROR = "engine_error"
    STORE_BUSY = "store_busy"
    HTTP_ERROR = "http_error"

    @property
    def description(self) -> str:
        """Return when the API answers with this code."""
        return DESCRIPTIONS[self]


DESCRIPTIONS: dict[ErrorCode, str] = {
    ErrorCode.BAD_REQUEST: "400: the request could not be read.",
    ErrorCode.INVALID_JSON: "400: the body is not JSON (also: duplicate keys, NaN).",
    ErrorCode.UNAUTHORIZED: (
        "401: no API key, an Authorization header that is not Bearer <token>, "
        "or a key that is unknown or revoked."
    ),
    ErrorCode.FORBIDDEN: "403: the API key lacks the scope the endpoint needs; scope names it.",
    ErrorCode.NOT_FOUND: "404: unknown path.",
    ErrorCode.CASE_NOT_FOUND: "404: no event was ever stored for the case.",
    ErrorCode.REVISION_NOT_FOUND: "404: no rule bundle with the named revision is stored.",
    ErrorCode.AGENT_NOT_FOUND: "404: the agent has no profile.",
    ErrorCode.WEBHOOK_NOT_FOUND: "404: no webhook endpoint is registered under the id.",
    ErrorCode.DELIVERY_NOT_FOUND: "404: the webhook endpoint has no delivery with the id.",
    ErrorCode.WEBHOOK_DISABLED: (
        "409: the webhook endpoint is disabled (it answered 410 Gone); PUT it again to enable it."
    ),
    ErrorCode.METHOD_NOT_ALLOWED: "405: the path does not take this method.",
    ErrorCode.NOT_ACCEPTABLE: "406: the response cannot be given in an accepted media type.",
    ErrorCode.IDEMPOTENCY_CONFLICT: (
        "409: the event_id was already used with a different body, or for another case."
    ),
    ErrorCode.CASE_CUSTOMER_MISMATCH: "409: the event names another customer than the case's.",
    ErrorCode.ESCALATION_RATE_GUARD: (
        "409: replaying recent events, the candidate rule set would escalate too much; "
        "activate with force to override."
    ),
    ErrorCode.PAYLOAD_TOO_LARGE: "413: the body is larger than the limit.",
    ErrorCode.REQUEST_TIMEOUT: (
        "408: the body did not arrive within ESCALATION_BODY_TIMEOUT_SECONDS; nothing was done."
    ),
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: "415: the body is not sent as application/json.",
    ErrorCode.VALIDATION_FAILED: (
        "422: missing, unknown or mistyped fields; one entry per field in errors."
    ),
    ErrorCode.RULES_INVALID: "422: the rule files are not valid; issues lists every problem.",
    ErrorCode.INTERNAL_ERROR: "500: an unexpected error; it has been logged.",
    ErrorCode.ENGINE_ERROR: "500: the rule engine failed; never returned as an empty decision.",
    ErrorCode.STORE_BUSY: (
        "503: the database stayed locked through every retry; nothing was stored; retry."
    ),
    ErrorCode.HTTP_ERROR: "Any other HTTP error status, with the status's own title.",
}
