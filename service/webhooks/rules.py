"""Pure webhook rules: which decisions an endpoint gets, how they are signed, when to retry.

Signing and payloads follow the Standard Webhooks specification
(https://www.standardwebhooks.com): the ``webhook-id`` header is the
decision id, the same on every attempt, so a receiver can drop repeats.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from standardwebhooks import Webhook

from schemas.api import DecisionV1Schema
from schemas.webhooks import SECRET_PREFIX
from service.masking import TextPolicy, mask_decision
from service.store import codec

CREATED, TIME_DRIVEN = "decision.created", "decision.time_driven"
DAY = 24 * 3600.0
DECISION_V1 = DecisionV1Schema()  # reused: building a schema costs more than dumping with it
# The Standard Webhooks schedule: the wait before each attempt (about a day in all).
DEFAULT_SCHEDULE = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


def new_secret() -> str:
    """Return a fresh random secret in the Standard Webhooks form."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def wants(events: str, outcome: str, *, time_driven: bool) -> bool:
    """Tell whether an endpoint with this event filter gets a decision with this outcome."""
    if events == "escalations":
        return outcome == "escalate"
    if events == "time_driven":
        return time_driven
    return True


def wire_decision(stored: Mapping[str, Any], key: bytes | None = None) -> dict[str, Any]:
    """Return a queued decision as GET /v1/decisions shows it to a caller without text:read.

    Receivers never hold the text:read scope: the words a signal matched are
    sent as their hash stand-in (docs/masking.md).
    """
    data: dict[str, Any] = mask_decision(
        DECISION_V1.dump(codec.decision_from_json(stored["decision"])), TextPolicy.HASH, key
    )
    data["customer_id"] = stored["customer_id"]
    data["received_at"] = stored["received_at"]
    return data


def body(kind: str, decision: Mapping[str, Any], queued_at: datetime) -> bytes:
    """Return the request body: the message type, when it was queued, and the decision."""
    message = {"type": kind, "timestamp": queued_at.astimezone(UTC).isoformat(), "data": decision}
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def headers(secret: str, message_id: str, sent_at: datetime, payload: bytes) -> dict[str, str]:
    """Return the Standard Webhooks headers that sign ``payload`` for one attempt."""
    signature = Webhook(secret).sign(message_id, sent_at, payload.decode("utf-8"))
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def parse_schedule(text: str) -> tuple[float, ...]:
    """Parse a comma list of waits in seconds; raise ValueError when it is not one."""
    waits = tuple(float(part) for part in text.split(",") if part.strip())
    if not waits or any(w < 0 or w != w for w in waits):
        raise ValueError(f"expected a comma list of seconds, not {text!r}")
    return waits


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Return the seconds a Retry-After header asks to wait (seconds or HTTP date), or None."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def next_wait(
    schedule: tuple[float, ...], attempts: int, retry_after: float | None = None
) -> float | None:
    """Return the wait before the next attempt after ``attempts`` failed ones, or None: give up.

    A Retry-After longer than the schedule's next wait is honoured, up to twice
    that wait and never past a day.
    """
    if attempts >= len(schedule):
        return None
    wait = schedule[attempts]
    if retry_after is None:
        return wait
    return max(wait, min(retry_after, wait * 2, DAY))
