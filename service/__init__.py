"""The escalation decision service: decide when a support case leaves the agent's hands."""

from __future__ import annotations

import atexit
import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask

if TYPE_CHECKING:
    from service.policy import Clock, Policy


def create_app(
    config: Mapping[str, Any] | None = None,
    *,
    policy: Policy | None = None,
    clock: Clock | None = None,
) -> Flask:
    """Create the application: defaults, then environment overrides, then ``config``.

    ``policy`` is a policy already built (tests reuse one to save compiling);
    it seeds an empty database and serves if its revision is the active one.
    ``clock`` replaces the wall clock for everything the service timestamps.
    Raise ``service.ruleset.issues.InvalidFiles`` when the database holds no
    active rules and the bundled rules folder is not valid.
    """
    # Imported here so that importing the domain modules never imports Flask.
    from service import config as settings
    from service import logs
    from service.activation import Guard, replayer_for
    from service.api import auth, context, errors, observe, register_blueprints
    from service.api.json_provider import FastJSONProvider
    from service.api.openapi import build_spec
    from service.claimer import Claimer, log_fired
    from service.decision_log import DecisionLog, Outbox
    from service.keys import KeyRing
    from service.masking import parse_policy
    from service.policy import PolicyHolder, utc_now
    from service.retention import Purger
    from service.store.db import create_engine, migrate
    from service.store.repository import Store
    from service.webhooks.rules import parse_schedule
    from service.webhooks.sender import Sender

    overrides = dict(config or {})
    instance = overrides.pop("INSTANCE_PATH", None) or os.environ.get("ESCALATION_INSTANCE_PATH")
    app = Flask(__name__, instance_path=instance, instance_relative_config=True)
    app.json = FastJSONProvider(app)  # orjson writes the JSON responses (service/jsonwire.py)
    app.config.from_mapping(settings.defaults(app.instance_path))
    app.config.from_mapping(settings.from_environment(os.environ))
    app.config.from_mapping(overrides)
    os.makedirs(app.instance_path, exist_ok=True)
    logs.configure(app.config["LOG_LEVEL"])
    app.json.sort_keys = False

    engine = create_engine(app.config["DATABASE_URL"])
    if app.config["AUTO_MIGRATE"]:
        migrate(engine, Path(app.instance_path) / "migrate.lock")
    store = Store(engine)
    now = clock or utc_now
    # The database names the active revision; the folder only seeds an empty one.
    policies = PolicyHolder(
        store,
        Path(app.config["RULES_DIR"]),
        policy=policy,
        cache_size=app.config["RULES_CACHE_SIZE"],
        max_builds=app.config["RULES_MAX_BUILDS"],
        clock=now,
        signal_model=app.config["SIGNAL_MODEL"],
    )
    policies.start_polling(app.config["RULES_POLL_SECONDS"])
    hash_key = app.config["TEXT_HASH_KEY"]
    decision_log = DecisionLog(
        app.config["DECISION_LOG"],
        parse_policy(settings.text_policy(app.config)),
        hash_key.encode("utf-8") if hash_key else None,
        # Lines written outside a request (recovery, timers) mask by the active rules.
        readable=lambda: policies.current.readable,
    )
    _reopen_on_usr1()
    outbox = Outbox(
        store, decision_log, timedelta(seconds=app.config["DECISION_LOG_SETTLE_SECONDS"])
    )
    if app.config["DECISION_LOG_FLUSH_SECONDS"] > 0:
        # Flag what is pending when the worker exits, so a restart does not log it again.
        atexit.register(outbox.stop)
        outbox.start(
            app.config["DECISION_LOG_FLUSH_SECONDS"], app.config["DECISION_LOG_RECOVER_SECONDS"]
        )
    # Created per worker (no --preload), so each worker runs its own sender.
    sender = Sender(
        store,
        parse_schedule(app.config["WEBHOOK_BACKOFF_SECONDS"]),
        clock=now,
        hash_key=decision_log.key,
    )
    app.extensions["webhook_sender"] = sender
    if app.config["WEBHOOK_SEND_SECONDS"] > 0:
        # No atexit hook: a send cut short by exit is sent again when its lease ends.
        sender.start(app.config["WEBHOOK_SEND_SECONDS"])
    claimer: Claimer | None = None
    if app.config["TIMER_POLL_SECONDS"] > 0:
        # Due deadlines fire from every worker; the database makes each fire once.
        claimer = Claimer(
            store, lambda: policies.current, on_fired=log_fired(decision_log, outbox), clock=now
        )
        claimer.start(app.config["TIMER_POLL_SECONDS"])
    app.extensions["timer_claimer"] = claimer
    purger = Purger(store, timedelta(days=app.config["TEXT_RETENTION_DAYS"]), now)
    if app.config["TEXT_PURGE_SECONDS"] > 0:
        # Every worker purges; on PostgreSQL they take different rows (SKIP LOCKED).
        purger.start(app.config["TEXT_PURGE_SECONDS"])
    app.extensions["text_purger"] = purger
    guard = Guard(
        window=timedelta(days=app.config["GUARD_WINDOW_DAYS"]),
        max_events=app.config["GUARD_MAX_EVENTS"],
        margin=app.config["GUARD_MARGIN_POINTS"] / 100,
    )
    # The database holds the keys; the key file only adds to it (docs/security.md).
    keys = KeyRing(
        store,
        Path(app.config["API_KEYS_FILE"]) if app.config["API_KEYS_FILE"] else None,
        interval=app.config["API_KEYS_REFRESH_SECONDS"],
        clock=now,
    )
    keys.refresh()
    keys.start()
    context.init_app(
        app,
        context.Services(
            policies=policies,
            decision_log=decision_log,
            store=store,
            outbox=outbox,
            clock=now,
            guard=guard,
            replayer=replayer_for(store),
            keys=keys,
        ),
    )
    observe.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    register_blueprints(app)
    app.extensions["openapi"] = build_spec()
    return app


def _reopen_on_usr1() -> None:
    """Reopen every decision log on SIGUSR1, the signal gunicorn reopens its own logs on.

    gunicorn's master forwards USR1 to every worker (HUP instead replaces the
    workers, which open the file anew); its handler is kept and called after
    ours.  Installed once per process; outside the main thread no handler can
    be set, and the inode check alone notices a rotation.
    """
    import signal
    import threading

    from service.decision_log import DecisionLog

    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGUSR1)
    if getattr(previous, "reopens_decision_logs", False):
        return

    def reopen(signum: int, frame: Any) -> None:
        DecisionLog.reopen_all()
        if callable(previous):
            previous(signum, frame)

    reopen.reopens_decision_logs = True  # type: ignore[attr-defined]
    signal.signal(signal.SIGUSR1, reopen)
