"""The escalation decision service: decide when a support case leaves the agent's hands."""

from __future__ import annotations

import atexit
import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create the application: defaults, then environment overrides, then ``config``.

    Raise ``service.ruleset.issues.InvalidFiles`` when the rule files are not
    valid: the service never starts on a broken rule set.
    """
    # Imported here so that importing the domain modules never imports Flask.
    from service import config as settings
    from service.api import context, errors, register_blueprints
    from service.api.openapi import build_spec
    from service.decision_log import DecisionLog, Outbox
    from service.policy import PolicyHolder
    from service.store.db import create_engine, migrate
    from service.store.repository import Store

    overrides = dict(config or {})
    instance = overrides.pop("INSTANCE_PATH", None) or os.environ.get("ESCALATION_INSTANCE_PATH")
    app = Flask(__name__, instance_path=instance, instance_relative_config=True)
    app.config.from_mapping(settings.defaults(app.instance_path))
    app.config.from_mapping(settings.from_environment(os.environ))
    app.config.from_mapping(overrides)
    os.makedirs(app.instance_path, exist_ok=True)
    app.json.sort_keys = False  # type: ignore[attr-defined]

    policies = PolicyHolder(
        Path(app.config["RULES_DIR"]),
        marker=Path(app.instance_path) / "rules-reloaded",
    )
    engine = create_engine(app.config["DATABASE_URL"])
    if app.config["AUTO_MIGRATE"]:
        migrate(engine, Path(app.instance_path) / "migrate.lock")
    store = Store(engine)
    decision_log = DecisionLog(
        app.config["DECISION_LOG"], mask_text=app.config["DECISION_LOG_MASK_TEXT"]
    )
    outbox = Outbox(
        store, decision_log, timedelta(seconds=app.config["DECISION_LOG_SETTLE_SECONDS"])
    )
    if app.config["DECISION_LOG_FLUSH_SECONDS"] > 0:
        # Flag what is pending when the worker exits, so a restart does not log it again.
        atexit.register(outbox.stop)
        outbox.start(
            app.config["DECISION_LOG_FLUSH_SECONDS"], app.config["DECISION_LOG_RECOVER_SECONDS"]
        )
    context.init_app(
        app,
        context.Services(policies=policies, decision_log=decision_log, store=store, outbox=outbox),
    )
    errors.init_app(app)
    register_blueprints(app)
    app.extensions["openapi"] = build_spec()
    return app
