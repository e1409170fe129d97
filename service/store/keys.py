"""Reads and writes of API keys: rows by name, hashes only, revoked rows kept as tombstones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from service.store.codec import aware
from service.store.schema import api_keys

_INSERT_IF_NEW = {
    dialect: module.insert(api_keys).on_conflict_do_nothing()
    for dialect, module in (("postgresql", postgresql), ("sqlite", sqlite))
}
# Rows are only ever added or revoked (never deleted, never un-revoked), so these
# two counts change with every change: the cheap version workers poll.
_VERSION = sa.select(sa.func.count(), sa.func.count(api_keys.c.revoked_at))


@dataclass(frozen=True)
class KeyRow:
    """One stored API key."""

    name: str
    scopes: tuple[str, ...]
    token_hash: str
    created_at: datetime
    revoked_at: datetime | None


def _row(found: Any) -> KeyRow:
    return KeyRow(
        name=found.name,
        scopes=tuple(s for s in found.scopes.split(",") if s),
        token_hash=found.token_hash,
        created_at=aware(found.created_at),
        revoked_at=aware(found.revoked_at) if found.revoked_at is not None else None,
    )


_COLUMNS = (
    api_keys.c.name,
    api_keys.c.scopes,
    api_keys.c.token_hash,
    api_keys.c.created_at,
    api_keys.c.revoked_at,
)


def version(conn: sa.Connection) -> tuple[int, int]:
    """Return (keys, revoked keys): it changes whenever a key is added or revoked."""
    found = conn.execute(_VERSION).one()
    return int(found[0]), int(found[1])


def all_keys(conn: sa.Connection) -> list[KeyRow]:
    """Return every key, revoked ones included, by name."""
    return [_row(r) for r in conn.execute(sa.select(*_COLUMNS).order_by(api_keys.c.name))]


def find(conn: sa.Connection, name: str) -> KeyRow | None:
    """Return the key named ``name``, or None."""
    found = conn.execute(sa.select(*_COLUMNS).where(api_keys.c.name == name)).first()
    return _row(found) if found is not None else None


def insert(
    conn: sa.Connection, name: str, scopes: Sequence[str], token_hash: str, now: datetime
) -> bool:
    """Add a key unless its name or hash is stored already; return whether this call added it."""
    # RETURNING, not rowcount: psycopg reports a row for a conflict that did nothing.
    added = conn.execute(
        _INSERT_IF_NEW[conn.dialect.name].returning(api_keys.c.name),
        {
            "name": name,
            "scopes": ",".join(scopes),
            "token_hash": token_hash,
            "created_at": now,
            "revoked_at": None,
        },
    ).first()
    return added is not None


def revoke(conn: sa.Connection, name: str, now: datetime) -> bool:
    """Revoke the key named ``name``; return whether it was active until now."""
    changed = conn.execute(
        api_keys.update()
        .where(api_keys.c.name == name, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(api_keys.c.name)
    ).first()
    return changed is not None
