"""Who may change the service (the admin token, when one is configured) and who may read text."""

from __future__ import annotations

import hmac
from typing import Any

from flask import current_app, request

from service.api.codes import ErrorCode
from service.api.errors import ApiError
from service.masking import TextPolicy, mask_decision


def require_admin() -> None:
    """Require ``Authorization: Bearer <ADMIN_TOKEN>`` for changes, when a token is configured.

    Rules and webhook endpoints both change where decisions come from or go;
    API keys with scopes are to replace this one token.
    """
    token = current_app.config.get("ADMIN_TOKEN")
    if not token:
        return
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), str(token).encode()):
        raise ApiError(
            401,
            ErrorCode.UNAUTHORIZED,
            "Unauthorized",
            "send the admin token as Authorization: Bearer <token>",
        )


def may_read_text() -> bool:
    """Tell whether the caller may see message text and matched words (scope ``text:read``).

    A placeholder until API keys land: the integrator replaces it with the
    caller's scope check.  Until then TEXT_READ_DEFAULT decides for every caller.
    """
    return bool(current_app.config.get("TEXT_READ_DEFAULT", False))


def shown_decision(wire: dict[str, Any]) -> dict[str, Any]:
    """Return a decision in its wire form as this caller may see it (docs/masking.md)."""
    if may_read_text():
        return wire
    key = current_app.config.get("TEXT_HASH_KEY")
    return mask_decision(wire, TextPolicy.HASH, key.encode("utf-8") if key else None)
