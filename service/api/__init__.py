"""The HTTP layer: one blueprint per resource, thin views over the domain."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint of the API."""
    from service.api import agents, cases, decisions, evaluate, health, openapi, rules, webhooks

    for module in (evaluate, cases, agents, decisions, rules, webhooks, health, openapi):
        app.register_blueprint(module.bp)
    # Operations: the /ops and /docs pages and the data /ops reads (docs/pages.md).
    from service.api import deliveries, docs, latest, ops, stats, timers

    for module in (latest, stats, timers, deliveries, ops, docs):
        app.register_blueprint(module.bp)

    from service.api import metrics

    app.register_blueprint(metrics.bp)
