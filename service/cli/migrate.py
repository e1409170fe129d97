"""``escalation migrate``: bring the database schema to the newest revision, keeping data."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from service.config import PROJECT_ROOT, defaults
from service.store.db import create_engine, current_revision, migrate


def register(subparsers: Any) -> None:
    """Add the ``migrate`` subcommand."""
    parser = subparsers.add_parser("migrate", help="migrate the database schema")
    parser.add_argument("--database", help="database URL (default: DATABASE_URL, else SQLite)")
    parser.set_defaults(func=main)


def database_url(given: str | None) -> str:
    """Return the database URL: the argument, else DATABASE_URL, else the embedded SQLite."""
    return given or os.environ.get("DATABASE_URL") or defaults(str(instance_path()))["DATABASE_URL"]


def instance_path() -> Path:
    """Return the instance folder the service uses (ESCALATION_INSTANCE_PATH or instance/)."""
    return Path(os.environ.get("ESCALATION_INSTANCE_PATH") or PROJECT_ROOT / "instance")


def main(args: argparse.Namespace) -> int:
    """Migrate the database schema to the newest revision, keeping its data."""
    engine = create_engine(database_url(args.database))
    before = current_revision(engine)
    migrate(engine, instance_path() / "migrate.lock")
    print(f"database at revision {current_revision(engine)} (was {before or 'empty'})")
    return 0
