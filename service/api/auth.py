"""Who may change the service: the admin token, when one is configured."""

from __future__ import annotations

import hmac

from flask import current_app, request

from service.api.codes import ErrorCode
from service.api.errors import ApiError


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
