"""``escalation purge``: remove message text past the retention period from stored events."""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from service.cli.migrate import database_url, instance_path
from service.config import defaults
from service.retention import BATCH, purge
from service.store.db import create_engine, migrate
from service.store.repository import Store


def _days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of days, got {text!r}") from None
    if not 0 <= days <= 36_500:
        raise argparse.ArgumentTypeError("the retention lies between 0 and 36500 days")
    return days


def _batch(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 100_000:
        raise argparse.ArgumentTypeError("the batch size is a whole number from 1 to 100000")
    return int(text)


def register(subparsers: Any) -> None:
    """Add the ``purge`` subcommand."""
    parser = subparsers.add_parser(
        "purge", help="remove message text older than the retention period"
    )
    parser.add_argument("--database", help="database URL (default: DATABASE_URL, else SQLite)")
    parser.add_argument(
        "--days",
        type=_days,
        default=None,
        help="retention in days (default: ESCALATION_TEXT_RETENTION_DAYS, else 30)",
    )
    parser.add_argument(
        "--batch", type=_batch, default=BATCH, help=f"events per transaction (default {BATCH})"
    )
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Purge the text of every event received before the retention period; print the count."""
    days = args.days
    if days is None:
        configured = os.environ.get("ESCALATION_TEXT_RETENTION_DAYS")
        days = _days(configured) if configured else defaults("")["TEXT_RETENTION_DAYS"]
    engine = create_engine(database_url(args.database))
    instance_path().mkdir(parents=True, exist_ok=True)
    migrate(engine, instance_path() / "migrate.lock")
    now = datetime.now(UTC)
    cutoff = now - timedelta(days=days)
    purged = purge(Store(engine), now, timedelta(days=days), batch=args.batch)
    print(f"purged the message text of {purged} event(s) received before {cutoff.isoformat()}")
    engine.dispose()
    return 0
