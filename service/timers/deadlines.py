"""Deadline rows: written, restarted and cancelled in the transaction of the event concerned.

A timer's start event inserts one pending row per warning and one for the
breach; its stop events cancel the case's pending rows of that timer.  A start
while the timer runs restarts it: the pending rows are replaced by new ones
counted from the new start (deleted, not kept as cancelled, so a case with a
thousand events holds one pending row per timer, not a thousand).  The claimer
(``service.claimer``) fires pending rows once they are due.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from service.cases.model import Event
from service.engine import catalog
from service.engine.explain import holds
from service.engine.facts import Facts
from service.engine.model import Calendar, Timer
from service.policy import Policy
from service.store.codec import aware
from service.store.schema import deadlines
from service.store.writes import Write, run
from service.timers.due import due_times

log = logging.getLogger(__name__)

PENDING, FIRED, CANCELLED = "pending", "fired", "cancelled"


# Built once: the event path runs them on every event that starts or stops a timer.
_CLEAR = deadlines.delete().where(
    deadlines.c.case_id == sa.bindparam("d_case"),
    deadlines.c.timer_id == sa.bindparam("d_timer"),
    deadlines.c.state == PENDING,
)
_ADD = deadlines.insert()
_CANCEL = (
    deadlines.update()
    .where(
        deadlines.c.case_id == sa.bindparam("d_case"),
        deadlines.c.timer_id == sa.bindparam("d_timer"),
        deadlines.c.state == PENDING,
    )
    .values(state=CANCELLED, closed_by=sa.bindparam("d_by"), updated_at=sa.bindparam("d_now"))
)


def event_writes(
    policy: Policy, case_id: str, event: Event, facts: Facts, now: datetime
) -> list[Write]:
    """Return the writes that start, restart and stop the case's timers as ``event`` says."""
    if not policy.ruleset.timers or event.type in catalog.SERVER_EVENT_TYPES:
        return []
    writes: list[Write] = []
    for timer in policy.ruleset.timers:
        stopped = event.type in timer.stop
        if stopped:
            writes.append(_cancel_write(case_id, timer.id, event.event_id, now))
        if event.type in timer.start and (timer.when is None or holds(timer.when, facts, {})):
            calendars = {c.id: c for c in policy.ruleset.defaults.calendars}
            started = start_writes(timer, case_id, event, policy.revision, now, calendars)
            # Cancelled just now, the timer has no pending rows to clear; and on
            # PostgreSQL all writes are one statement, where one row must not be
            # both updated and deleted.
            writes += started[1:] if stopped else started
    return writes


def on_event(
    conn: sa.Connection, policy: Policy, case_id: str, event: Event, facts: Facts, now: datetime
) -> None:
    """Start, restart and stop the case's timers as ``event`` says, in the caller's transaction."""
    run(conn, event_writes(policy, case_id, event, facts, now))


def start_writes(
    timer: Timer,
    case_id: str,
    event: Event,
    revision: str,
    now: datetime,
    calendars: Mapping[str, Calendar] | None = None,
) -> list[Write]:
    """Return the writes that (re)start ``timer`` for the case from ``event`` (none: no time)."""
    dues = due_times(timer, event.occurred_at, event.attributes, calendars)
    if dues is None:
        log.info(
            "timer %s not started for case %s: event %s carries no time in %s",
            timer.id,
            case_id,
            event.event_id,
            timer.target_attribute,
        )
        return []
    rows = [
        {
            "case_id": case_id,
            "timer_id": timer.id,
            "kind": due.kind,
            "percent": due.percent,
            "due_at": due.at,
            "state": PENDING,
            "started_by": event.event_id,
            "channel": event.channel,
            "rules_revision": revision,
            "created_at": now,
            "updated_at": now,
        }
        for due in dues
    ]
    return [Write(_CLEAR, [{"d_case": case_id, "d_timer": timer.id}]), Write(_ADD, rows)]


def start(
    conn: sa.Connection,
    timer: Timer,
    case_id: str,
    event: Event,
    revision: str,
    now: datetime,
    calendars: Mapping[str, Calendar] | None = None,
) -> int:
    """(Re)start ``timer`` for the case from ``event``; return how many rows were written."""
    writes = start_writes(timer, case_id, event, revision, now, calendars)
    run(conn, writes)
    return len(writes[-1].rows) if writes else 0


def _cancel_write(case_id: str, timer_id: str, by: str, now: datetime) -> Write:
    return Write(_CANCEL, [{"d_case": case_id, "d_timer": timer_id, "d_by": by, "d_now": now}])


def cancel(conn: sa.Connection, case_id: str, timer_id: str, by: str, now: datetime) -> int:
    """Cancel the case's pending rows of one timer; return how many."""
    write = _cancel_write(case_id, timer_id, by, now)
    result = conn.execute(write.statement, dict(write.rows[0]))
    return int(result.rowcount)


@dataclass(frozen=True)
class Deadline:
    """A deadline row."""

    id: int
    case_id: str
    timer_id: str
    kind: str
    percent: int | None
    due_at: datetime
    state: str
    started_by: str
    channel: str | None
    rules_revision: str


def _deadline(row: Any) -> Deadline:
    return Deadline(
        id=row.id,
        case_id=row.case_id,
        timer_id=row.timer_id,
        kind=row.kind,
        percent=row.percent,
        due_at=aware(row.due_at),
        state=row.state,
        started_by=row.started_by,
        channel=row.channel,
        rules_revision=row.rules_revision,
    )


def claim_next(conn: sa.Connection, now: datetime, skip: Collection[int] = ()) -> Deadline | None:
    """Lock and return the earliest pending row due by ``now``, skipping rows others hold.

    ``FOR UPDATE SKIP LOCKED`` on PostgreSQL: servers polling together take
    different rows, and a row stays locked until its firing commits or rolls
    back.  SQLite ignores it: there the caller holds the single-writer lock.
    The (state, due_at) index serves the query however many rows are pending.
    """
    query = (
        sa.select(deadlines)
        .where(deadlines.c.state == PENDING, deadlines.c.due_at <= now)
        .order_by(deadlines.c.due_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if skip:
        query = query.where(deadlines.c.id.not_in(list(skip)))
    row = conn.execute(query).first()
    return None if row is None else _deadline(row)


def mark_fired(conn: sa.Connection, deadline_id: int, event_id: str, now: datetime) -> None:
    """Record that a deadline fired as the event ``event_id``."""
    conn.execute(
        deadlines.update()
        .where(deadlines.c.id == deadline_id)
        .values(state=FIRED, closed_by=event_id, updated_at=now)
    )


def of_case(conn: sa.Connection, case_id: str) -> list[Deadline]:
    """Return every deadline row of a case, by due time."""
    rows = conn.execute(
        sa.select(deadlines)
        .where(deadlines.c.case_id == case_id)
        .order_by(deadlines.c.due_at, deadlines.c.id)
    )
    return [_deadline(row) for row in rows]
