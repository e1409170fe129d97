"""Health checks: GET /healthz (alive) and GET /readyz (ready to decide)."""

from __future__ import annotations

import os
from typing import Any

from flask import Blueprint

from service.api.context import services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> dict[str, Any]:
    """Report that the process is up."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> dict[str, Any]:
    """Report that the service can decide, and the revision this worker serves.

    ``worker`` tells the processes behind one address apart, so an operator
    (or a test) can see every worker follow an activation.
    """
    svc = services()
    policy = svc.policies.current
    svc.store.ping()
    return {"status": "ready", "rules_revision": policy.revision, "worker": os.getpid()}
