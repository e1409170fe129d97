"""The per-application services the views use, attached with ``init_app``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import Flask, current_app, g

from service.activation import Guard, Replayer
from service.decision_log import DecisionLog, Outbox
from service.keys import KeyRing
from service.policy import Clock, PolicyHolder
from service.store.repository import Store

KEY = "escalation"


@dataclass
class Services:
    """What one application instance runs on."""

    policies: PolicyHolder
    decision_log: DecisionLog
    store: Store
    outbox: Outbox
    clock: Clock
    guard: Guard | None = None
    replayer: Replayer | None = None
    keys: KeyRing | None = None


def init_app(app: Flask, services: Services) -> None:
    """Attach the services to the application."""
    app.extensions[KEY] = services


def services() -> Services:
    """Return the services of the current application."""
    found: Services = current_app.extensions[KEY]
    return found


# Control characters (NUL above all: PostgreSQL stores none) and lone surrogates.
_UNSTORABLE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def caller() -> str:
    """Name the caller for decisions, the decision log and activations: the API key's name.

    X-Caller-Id is not read: a header anyone can set names no one.
    """
    key = g.get("api_key")
    # Every endpoint that records a caller needs a key; "unknown" is a fallback only.
    return key.name if key is not None else "unknown"
