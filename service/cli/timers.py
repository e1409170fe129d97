"""``escalation timers run``: fire due timer deadlines as a process of its own."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from service import logs
from service.claimer import Claimer, log_fired
from service.cli.common import DEFAULT_RULES
from service.cli.migrate import database_url, instance_path
from service.config import defaults, from_environment, text_policy
from service.decision_log import DecisionLog, Outbox
from service.masking import parse_policy
from service.policy import PolicyHolder
from service.store.db import create_engine, migrate
from service.store.repository import Store


def register(subparsers: Any) -> None:
    """Add the ``timers`` subcommand."""
    parser = subparsers.add_parser("timers", help="fire due timer deadlines")
    actions = parser.add_subparsers(dest="timers_command", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="fire due deadlines until stopped (or once)")
    run.add_argument("--database", help="database URL (default: DATABASE_URL, else SQLite)")
    run.add_argument(
        "--rules", type=Path, default=None, help="rules folder that seeds an empty database"
    )
    run.add_argument(
        "--interval", type=float, default=None, help="seconds between polls (default: 10)"
    )
    run.add_argument("--once", action="store_true", help="fire what is due now, then exit")
    run.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Fire due deadlines every interval until SIGTERM or SIGINT; with --once, once."""
    logs.configure(os.environ.get("ESCALATION_LOG_LEVEL") or "INFO")
    settings = defaults(str(instance_path()))
    engine = create_engine(database_url(args.database))
    instance_path().mkdir(parents=True, exist_ok=True)
    migrate(engine, instance_path() / "migrate.lock")
    store = Store(engine)
    rules = args.rules or Path(os.environ.get("ESCALATION_RULES_DIR") or DEFAULT_RULES)
    policies = PolicyHolder(store, rules.resolve())
    configured = {**settings, **from_environment(os.environ)}
    hash_key = configured["TEXT_HASH_KEY"]
    decision_log = DecisionLog(
        configured["DECISION_LOG"],
        parse_policy(text_policy(configured)),
        hash_key.encode("utf-8") if hash_key else None,
        readable=lambda: policies.current.readable,
    )
    outbox = Outbox(store, decision_log)

    claimer = Claimer(store, lambda: policies.current, on_fired=log_fired(decision_log, outbox))
    if args.once:
        print(f"fired {claimer.poll()} deadline(s)")
        return 0
    interval = args.interval
    if interval is None:
        interval = float(os.environ.get("ESCALATION_TIMER_POLL_SECONDS") or 10)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    policies.start_polling(float(os.environ.get("ESCALATION_RULES_POLL_SECONDS") or 1))
    logging.getLogger(__name__).info("firing due deadlines every %g s", interval)
    while not stop.is_set():
        claimer.poll()
        stop.wait(interval)
    policies.stop()
    decision_log.close()
    return 0
