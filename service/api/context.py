"""The per-application services the views use, attached with ``init_app``."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from service.decision_log import DecisionLog
from service.policy import PolicyHolder

KEY = "escalation"


@dataclass
class Services:
    """What one application instance runs on."""

    policies: PolicyHolder
    decision_log: DecisionLog


def init_app(app: Flask, services: Services) -> None:
    """Attach the services to the application."""
    app.extensions[KEY] = services


def services() -> Services:
    """Return the services of the current application."""
    found: Services = current_app.extensions[KEY]
    return found
