"""Configuration: defaults, then environment variables, then the caller's mapping."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
KIB = 1024


def _switch(value: str) -> bool:
    """Read an on/off setting: on unless it is 0, false, no or off."""
    return value.strip().lower() not in ("0", "false", "no", "off")


# name -> (environment variable, parser)
ENVIRONMENT: dict[str, tuple[str, Any]] = {
    "RULES_DIR": ("ESCALATION_RULES_DIR", str),
    "DATABASE_URL": ("DATABASE_URL", str),
    "DECISION_LOG": ("ESCALATION_DECISION_LOG", str),
    "DECISION_LOG_MASK_TEXT": ("ESCALATION_DECISION_LOG_MASK_TEXT", _switch),
    # drop, hash or keep: how the decision log shows message text and attribute values.
    "TEXT_POLICY": ("ESCALATION_TEXT_POLICY", str),
    "TEXT_HASH_KEY": ("ESCALATION_TEXT_HASH_KEY", str),
    "MAX_CONTENT_LENGTH": ("ESCALATION_MAX_BODY_BYTES", int),
    "API_KEYS_FILE": ("ESCALATION_API_KEYS", str),
    "API_KEYS_REFRESH_SECONDS": ("ESCALATION_API_KEYS_REFRESH_SECONDS", float),
    "DOCS_PUBLIC": ("ESCALATION_DOCS_PUBLIC", _switch),
    "METRICS_REQUIRE_KEY": ("ESCALATION_METRICS_REQUIRE_KEY", _switch),
    "AUTO_MIGRATE": ("ESCALATION_AUTO_MIGRATE", _switch),
    "DECISION_LOG_FLUSH_SECONDS": ("ESCALATION_DECISION_LOG_FLUSH_SECONDS", float),
    "DECISION_LOG_RECOVER_SECONDS": ("ESCALATION_DECISION_LOG_RECOVER_SECONDS", float),
    "DECISION_LOG_SETTLE_SECONDS": ("ESCALATION_DECISION_LOG_SETTLE_SECONDS", float),
    "RULES_POLL_SECONDS": ("ESCALATION_RULES_POLL_SECONDS", float),
    "RULES_CACHE_SIZE": ("ESCALATION_RULES_CACHE_SIZE", int),
    "RULES_MAX_BUILDS": ("ESCALATION_RULES_MAX_BUILDS", int),
    "BUNDLE_MAX_BYTES": ("ESCALATION_BUNDLE_MAX_BYTES", int),
    "GUARD_WINDOW_DAYS": ("ESCALATION_GUARD_WINDOW_DAYS", float),
    "GUARD_MAX_EVENTS": ("ESCALATION_GUARD_MAX_EVENTS", int),
    "GUARD_MARGIN_POINTS": ("ESCALATION_GUARD_MARGIN_POINTS", float),
    "WEBHOOK_SEND_SECONDS": ("ESCALATION_WEBHOOK_SEND_SECONDS", float),
    "WEBHOOK_BACKOFF_SECONDS": ("ESCALATION_WEBHOOK_BACKOFF_SECONDS", str),
    "TIMER_POLL_SECONDS": ("ESCALATION_TIMER_POLL_SECONDS", float),
    "TEXT_RETENTION_DAYS": ("ESCALATION_TEXT_RETENTION_DAYS", float),
    "TEXT_PURGE_SECONDS": ("ESCALATION_TEXT_PURGE_SECONDS", float),
    "LOG_LEVEL": ("ESCALATION_LOG_LEVEL", str),
    "BODY_TIMEOUT_SECONDS": ("ESCALATION_BODY_TIMEOUT_SECONDS", float),
    "SIGNAL_MODEL": ("ESCALATION_SIGNAL_MODEL", _switch),
}


def defaults(instance_path: str) -> dict[str, Any]:
    """Return the built-in configuration: SQLite and bundled rules under the instance folder."""
    return {
        "RULES_DIR": str(PROJECT_ROOT / "rules"),
        # The trained signal model behind the lexicon (docs/lexicons.md); false: the lexicon alone.
        "SIGNAL_MODEL": True,
        "DATABASE_URL": f"sqlite:///{os.path.join(instance_path, 'escalation.db')}",
        "DECISION_LOG": os.path.join(instance_path, "decisions.jsonl"),
        "DECISION_LOG_MASK_TEXT": True,
        # drop | hash | keep (docs/masking.md); None: hash, or keep when the older
        # DECISION_LOG_MASK_TEXT is false.
        "TEXT_POLICY": None,
        # Keys the hashes of masked values (HMAC-SHA-256), so short values cannot be guessed.
        "TEXT_HASH_KEY": None,
        # Bodies above this are refused with 413 before they are read.
        "MAX_CONTENT_LENGTH": 256 * KIB,
        # The operator's key file (docs/security.md): lines not yet in the database
        # are imported at start and whenever it changes.
        "API_KEYS_FILE": os.path.join(instance_path, "api-keys"),
        # Every worker checks the database for added or revoked keys this often.
        "API_KEYS_REFRESH_SECONDS": 1.0,
        # /docs and /static need no key unless this is false (then any valid key).
        "DOCS_PUBLIC": True,
        # /metrics needs decisions:read when this is true.
        "METRICS_REQUIRE_KEY": False,
        # Migrate the schema when the application starts (workers take turns).
        "AUTO_MIGRATE": True,
        # How often decision-log lines are flagged in the database; 0 flags each at once.
        "DECISION_LOG_FLUSH_SECONDS": 1.0,
        # How often stored decisions missing from the log (after a crash) are written,
        # and how old they must be, so that requests still answering are left alone.
        "DECISION_LOG_RECOVER_SECONDS": 30.0,
        "DECISION_LOG_SETTLE_SECONDS": 10.0,
        # Every worker checks the database's active revision this often (seconds).
        "RULES_POLL_SECONDS": 1.0,
        # Revisions kept built per worker, so a rollback costs no compile.
        "RULES_CACHE_SIZE": 4,
        # durable-rules keeps ~0.25 MB of every ruleset it ever built, even freed:
        # a gunicorn worker that has built this many is recycled gracefully (0: never).
        "RULES_MAX_BUILDS": 40,
        # POST /v1/rules/activate and /validate carry whole bundles (lexicons included).
        "BUNDLE_MAX_BYTES": 16 * 1024 * KIB,
        # The activation guard: replay this window of recent events (at most this
        # many) and refuse a rise in the escalation rate of more than the margin.
        "GUARD_WINDOW_DAYS": 7.0,
        "GUARD_MAX_EVENTS": 10_000,
        "GUARD_MARGIN_POINTS": 5.0,
        # Each worker's webhook sender looks for due deliveries this often (0: no sender).
        "WEBHOOK_SEND_SECONDS": 1.0,
        # Waits before each attempt of a webhook delivery (Standard Webhooks: about a day).
        "WEBHOOK_BACKOFF_SECONDS": "0,5,300,1800,7200,18000,36000,36000",
        # Every worker fires due timer deadlines this often (seconds); 0: not in this process.
        "TIMER_POLL_SECONDS": 10.0,
        # Message text of stored events is purged this long after they arrived
        # (docs/retention.md); every worker looks for expired text this often (0: never).
        "TEXT_RETENTION_DAYS": 30.0,
        "TEXT_PURGE_SECONDS": 300.0,
        # The application log (JSON lines on standard error): DEBUG, INFO, WARNING, ERROR.
        "LOG_LEVEL": "INFO",
        # Under the ASGI server, a request body must arrive whole within this many
        # seconds (else 408) before a view thread is given to it.
        "BODY_TIMEOUT_SECONDS": 30.0,
    }


def text_policy(config: Mapping[str, Any]) -> str:
    """Return the decision log's text policy name from TEXT_POLICY, else DECISION_LOG_MASK_TEXT."""
    if config.get("TEXT_POLICY"):
        return str(config["TEXT_POLICY"])
    return "hash" if config.get("DECISION_LOG_MASK_TEXT", True) else "keep"


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """Return the settings given by environment variables."""
    settings = {}
    for name, (variable, parse) in ENVIRONMENT.items():
        if environ.get(variable):
            settings[name] = parse(environ[variable])
    return settings
