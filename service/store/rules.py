"""Reads and writes of rule bundles, the active revision and the activation history.

The active revision is one row that every worker polls; a bundle is written
once per revision and never changed, so a worker that sees a new revision
can always load its files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from service.store.codec import aware
from service.store.schema import rule_activations, rule_bundles, rule_state

POINTER_ID = 1
_INSERT_IF_NEW = {
    (dialect, table.name): module.insert(table).on_conflict_do_nothing()
    for dialect, module in (("postgresql", postgresql), ("sqlite", sqlite))
    for table in (rule_bundles,)
}
_SEED = {
    dialect: module.insert(rule_state).on_conflict_do_nothing().returning(rule_state.c.id)
    for dialect, module in (("postgresql", postgresql), ("sqlite", sqlite))
}
_ACTIVE = sa.select(rule_state.c.revision, rule_state.c.generation).where(
    rule_state.c.id == POINTER_ID
)


@dataclass(frozen=True)
class Active:
    """The revision in force and how many times the pointer has moved."""

    revision: str
    generation: int


@dataclass(frozen=True)
class Activation:
    """One entry of the activation history."""

    id: int
    revision: str
    previous_revision: str | None
    action: str
    activated_by: str
    activated_at: datetime
    forced: bool
    replay: dict[str, Any] | None


def active(conn: sa.Connection) -> Active | None:
    """Return the active revision, or None in a database never seeded."""
    row = conn.execute(_ACTIVE).first()
    return Active(row.revision, row.generation) if row is not None else None


def bundle_files(conn: sa.Connection, revision: str) -> dict[str, str] | None:
    """Return a stored bundle's files as text by relative path."""
    found = conn.execute(
        sa.select(rule_bundles.c.files).where(rule_bundles.c.revision == revision)
    ).scalar()
    return dict(found) if found is not None else None


def save_bundle(
    conn: sa.Connection, revision: str, files: Mapping[str, str], by: str, now: datetime
) -> None:
    """Store a bundle unless its revision is stored already (contents are immutable)."""
    conn.execute(
        _INSERT_IF_NEW[(conn.dialect.name, "rule_bundles")],
        {"revision": revision, "files": dict(files), "created_at": now, "created_by": by},
    )


def seed(conn: sa.Connection, revision: str, now: datetime) -> bool:
    """Make ``revision`` active in a database that has none; return whether this call did."""
    # RETURNING, not rowcount: psycopg reports a row for a conflict that did nothing.
    inserted = conn.execute(
        _SEED[conn.dialect.name],
        {"id": POINTER_ID, "revision": revision, "generation": 1, "activated_at": now},
    ).first()
    return inserted is not None


def lock_active(conn: sa.Connection) -> Active | None:
    """Return the active revision, locking the pointer row until the transaction ends."""
    row = conn.execute(_ACTIVE.with_for_update()).first()
    return Active(row.revision, row.generation) if row is not None else None


def set_active(conn: sa.Connection, revision: str, generation: int, now: datetime) -> None:
    """Point every worker at ``revision``; clear the last failure, which it supersedes."""
    conn.execute(
        rule_state.update()
        .where(rule_state.c.id == POINTER_ID)
        .values(revision=revision, generation=generation, activated_at=now, last_failure=None)
    )


def record_activation(
    conn: sa.Connection,
    *,
    revision: str,
    previous: str | None,
    action: str,
    by: str,
    now: datetime,
    forced: bool = False,
    replay: Mapping[str, Any] | None = None,
) -> int:
    """Append one entry to the activation history and return its id."""
    found = conn.execute(
        rule_activations.insert()
        .values(
            revision=revision,
            previous_revision=previous,
            action=action,
            activated_by=by,
            activated_at=now,
            forced=forced,
            replay=dict(replay) if replay is not None else None,
        )
        .returning(rule_activations.c.id)
    ).scalar_one()
    return int(found)


def record_failure(conn: sa.Connection, failure: Mapping[str, Any]) -> None:
    """Keep the last failed attempt to change the rules, for GET /v1/rules."""
    conn.execute(
        rule_state.update()
        .where(rule_state.c.id == POINTER_ID)
        .values(last_failure=dict(failure))
    )


def last_failure(conn: sa.Connection) -> dict[str, Any] | None:
    """Return the last failed attempt since the last activation, if any."""
    found = conn.execute(
        sa.select(rule_state.c.last_failure).where(rule_state.c.id == POINTER_ID)
    ).scalar()
    return dict(found) if found else None


def activated_at(conn: sa.Connection) -> datetime | None:
    """Return when the active revision was activated."""
    found = conn.execute(
        sa.select(rule_state.c.activated_at).where(rule_state.c.id == POINTER_ID)
    ).scalar()
    return aware(found) if found is not None else None


def history(conn: sa.Connection, limit: int, before: int | None = None) -> list[Activation]:
    """Return activations newest first, ``limit`` at most, older than id ``before``."""
    query = sa.select(rule_activations).order_by(rule_activations.c.id.desc()).limit(limit)
    if before is not None:
        query = query.where(rule_activations.c.id < before)
    return [
        Activation(
            id=row.id,
            revision=row.revision,
            previous_revision=row.previous_revision,
            action=row.action,
            activated_by=row.activated_by,
            activated_at=aware(row.activated_at),
            forced=bool(row.forced),
            replay=dict(row.replay) if row.replay is not None else None,
        )
        for row in conn.execute(query)
    ]
