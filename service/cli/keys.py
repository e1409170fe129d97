"""``escalation keys add|revoke|list|dev``: manage the API keys in the database and the key file.

``add`` prints the new token once, on standard output and nothing else there;
only its SHA-256 is stored, in the database and in the key file.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.cli.migrate import database_url, instance_path
from service.hints import did_you_mean
from service.keys import (
    SCOPES,
    FileLine,
    InvalidKey,
    append_to_file,
    check_name,
    hash_token,
    new_token,
    parse_scopes,
    remove_from_file,
)
from service.store import keys as rows
from service.store.db import create_engine, migrate
from service.store.repository import Store

DEV_KEY = "dev"


def register(subparsers: Any) -> None:
    """Add the ``keys`` subcommand and its own subcommands."""
    parser = subparsers.add_parser("keys", help="add, revoke and list API keys")
    parser.add_argument("--database", help="database URL (default: DATABASE_URL, else SQLite)")
    parser.add_argument(
        "--file", type=Path, help="key file (default: ESCALATION_API_KEYS, else instance/api-keys)"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a key; print its token once")
    add.add_argument("name", help="a unique name, recorded as the caller of its decisions")
    add.add_argument(
        "--scopes", required=True, help=f"comma-separated, of: {', '.join(SCOPES)}"
    )
    add.set_defaults(func=main_add)
    revoke = actions.add_parser("revoke", help="revoke a key in every worker within seconds")
    revoke.add_argument("name")
    revoke.set_defaults(func=main_revoke)
    listing = actions.add_parser("list", help="list keys: names, scopes, created, revoked")
    listing.set_defaults(func=main_list)
    dev = actions.add_parser(
        "dev", help=f"add key {DEV_KEY!r} with every scope if there is no key (development)"
    )
    dev.set_defaults(func=main_dev)


def key_file(args: argparse.Namespace) -> Path:
    """Return the key file: --file, else ESCALATION_API_KEYS, else the instance folder's."""
    given: Path | None = args.file
    return given or Path(os.environ.get("ESCALATION_API_KEYS") or instance_path() / "api-keys")


def open_store(args: argparse.Namespace) -> Store:
    """Return the database, migrated to the newest schema."""
    engine = create_engine(database_url(args.database))
    migrate(engine, instance_path() / "migrate.lock")
    return Store(engine)


def add_key(args: argparse.Namespace, name: str, scopes: tuple[str, ...]) -> str | None:
    """Store a new key in the database and the key file; return its token, or None if taken."""
    store = open_store(args)
    try:
        token = new_token()
        digest = hash_token(token)
        with store.write() as conn:
            added = rows.insert(conn, name, scopes, digest, datetime.now(UTC))
    finally:
        store.engine.dispose()
    if not added:
        return None
    append_to_file(key_file(args), FileLine(name, scopes, digest))
    return token


def main_add(args: argparse.Namespace) -> int:
    """Add a key and print its token on standard output, once."""
    try:
        name = check_name(args.name)
        scopes = parse_scopes(args.scopes)
    except InvalidKey as exc:
        print(f"escalation keys add: {exc}", file=sys.stderr)
        return 1
    token = add_key(args, name, scopes)
    if token is None:
        print(
            f"escalation keys add: the name {name!r} is taken (names of revoked keys too)",
            file=sys.stderr,
        )
        return 1
    print(token)
    print(
        f"added key {name} with scopes {','.join(scopes)}; the token is shown only once",
        file=sys.stderr,
    )
    return 0


def main_revoke(args: argparse.Namespace) -> int:
    """Revoke a key in the database and drop its line from the key file."""
    store = open_store(args)
    try:
        with store.write() as conn:
            found = rows.find(conn, args.name)
            revoked = found is not None and rows.revoke(conn, args.name, datetime.now(UTC))
            names = [r.name for r in rows.all_keys(conn)] if found is None else []
    finally:
        store.engine.dispose()
    if found is None:
        hint = did_you_mean(args.name, names)
        print(
            f"escalation keys revoke: no key named {args.name!r}" + (f"; {hint}" if hint else ""),
            file=sys.stderr,
        )
        return 1
    remove_from_file(key_file(args), args.name)
    state = "revoked" if revoked else "was revoked already"
    print(f"key {args.name} {state}; every worker refuses it within seconds", file=sys.stderr)
    return 0


def _stamp(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else "-"


def main_list(args: argparse.Namespace) -> int:
    """Print every key: name, scopes, created and revoked times; never hashes."""
    store = open_store(args)
    try:
        with store.read() as conn:
            found = rows.all_keys(conn)
    finally:
        store.engine.dispose()
    table = [("NAME", "SCOPES", "CREATED", "REVOKED")] + [
        (r.name, ",".join(r.scopes), _stamp(r.created_at), _stamp(r.revoked_at)) for r in found
    ]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())
    return 0


def main_dev(args: argparse.Namespace) -> int:
    """Add the development key when the database has no key at all, and print its token."""
    store = open_store(args)
    try:
        with store.read() as conn:
            count, _ = rows.version(conn)
    finally:
        store.engine.dispose()
    if count:
        return 0
    token = add_key(args, DEV_KEY, tuple(SCOPES))
    if token is None:  # another process added it meanwhile
        return 0
    print(
        f"Development API key {DEV_KEY!r} with every scope (shown once; "
        "export ESCALATION_KEY=<token> for the README's examples). "
        "Do NOT use it in production: revoke it with `escalation keys revoke dev`.",
        file=sys.stderr,
    )
    print(token)
    return 0
