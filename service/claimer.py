"""The claimer: fire deadlines that fell due, exactly once however many servers poll.

Each deadline fires in a transaction of its own:

1. take the earliest pending row due by now, ``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL (servers polling together take different rows; on SQLite the
   single-writer lock of ``Store.write`` serialises claimers);
2. lock its case row, skipping a case an event holds right now (the event may
   be cancelling this very row; the next poll takes it again), so a claimer
   never waits for a case while holding a deadline and no two transactions
   wait on each other in a cycle;
3. decide a server-generated ``deadline_reached`` event through the same
   pipeline as a posted event (state, rules, merge, cool-down) and store the
   event, its decision, the case and the customer;
4. mark the row fired.

The event id is derived from the row id (``deadline:<id>``) and event ids are
unique, so a deadline can never be stored as fired twice; a crash before the
commit leaves the row pending for the next poll, of this server or another.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from schemas.api import EventV1Schema
from service import metrics
from service.cases.model import Event
from service.decision_log import DecisionLog, Outbox
from service.ingest import body_hash, decide_and_store
from service.policy import Policy, utc_now
from service.store import codec
from service.store import repository as repo
from service.store.repository import Store
from service.store.schema import cases
from service.timers import deadlines
from service.timers.deadlines import Deadline
from service.timers.due import WARNING

log = logging.getLogger(__name__)

EVENT_PREFIX = "deadline:"
CALLER = "timer"
# Deadlines fired per poll at most before the loop looks at the clock again.
BATCH = 1000
EVENT_V1 = EventV1Schema()
_LOCK_CASE_OR_SKIP = (
    sa.select(cases).where(cases.c.case_id == sa.bindparam("key")).with_for_update(skip_locked=True)
)


@dataclass(frozen=True)
class Fired:
    """A deadline that fired: the stored event and decision, for the decision log."""

    deadline: Deadline
    seq: int
    event: dict[str, Any]
    decision: dict[str, Any]
    customer_id: str | None


def event_id_of(deadline_id: int) -> str:
    """Return the id of the event a deadline fires as (unique, like the row id)."""
    return f"{EVENT_PREFIX}{deadline_id}"


def timer_state(deadline: Deadline) -> str:
    """Return what ``timer.state`` reads for a deadline: warning or breached."""
    return "warning" if deadline.kind == WARNING else "breached"


def event_body(deadline: Deadline) -> dict[str, Any]:
    """Return the deadline_reached event a deadline fires as, in the API's event shape."""
    attributes: dict[str, Any] = {
        "timer_id": deadline.timer_id,
        "timer_state": timer_state(deadline),
        "due_at": codec.stamp(deadline.due_at),
        "started_by": deadline.started_by,
    }
    if deadline.percent is not None:
        attributes["percent"] = deadline.percent
    body: dict[str, Any] = {
        "event_id": event_id_of(deadline.id),
        "type": "deadline_reached",
        "occurred_at": codec.stamp(deadline.due_at),
        "attributes": attributes,
    }
    if deadline.channel is not None:
        body["channel"] = deadline.channel
    return body


def fire(
    conn: sa.Connection, policy: Policy, deadline: Deadline, case_row: Any, now: datetime
) -> Fired:
    """Decide and store a deadline's event in the caller's transaction; mark the row fired."""
    body = event_body(deadline)
    event: Event = EVENT_V1.load(body)
    case = repo.LockedCase(
        codec.case_from_json(deadline.case_id, case_row.state),
        case_row.customer_id,
        case_row.event_count,
    )
    timer = {
        "id": deadline.timer_id,
        "state": timer_state(deadline),
        "due_at": codec.stamp(deadline.due_at),
        "started_by": deadline.started_by,
    }
    decision, seq = decide_and_store(
        conn, policy, deadline.case_id, case, event, body, body_hash(body), CALLER, now, timer=timer
    )
    deadlines.mark_fired(conn, deadline.id, event.event_id, now)
    return Fired(deadline, seq, body, codec.decision_to_json(decision), case.customer_id)


def log_fired(decision_log: DecisionLog, outbox: Outbox) -> Callable[[Fired], None]:
    """Return the ``on_fired`` hook that writes a fired deadline's decision to the log."""

    def logged(fired: Fired) -> None:
        decision_log.decision(
            fired.decision,
            fired.event,
            caller=CALLER,
            customer_id=fired.customer_id,
            dry_run=False,
        )
        outbox.written(fired.seq)

    return logged


class Claimer:
    """Poll for due deadlines and fire each once; ``on_fired`` runs after each commit."""

    def __init__(
        self,
        store: Store,
        policy: Callable[[], Policy],
        *,
        on_fired: Callable[[Fired], None] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.policy = policy
        self.on_fired = on_fired
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def fire_next(self, skip: set[int]) -> Fired | None:
        """Fire the earliest due deadline not in ``skip``; None when none is due.

        A row whose case is busy, or whose firing fails, is added to ``skip``
        and left pending: the next poll tries it again.
        """
        while True:
            now = self.clock()
            deadline: Deadline | None = None
            try:
                with self.store.write() as conn:
                    deadline = deadlines.claim_next(conn, now, skip)
                    if deadline is None:
                        return None
                    case_row = conn.execute(_LOCK_CASE_OR_SKIP, {"key": deadline.case_id}).first()
                    if case_row is None:
                        skip.add(deadline.id)  # an event holds the case: next poll
                        continue
                    fired = fire(conn, self.policy(), deadline, case_row, now)
            except Exception:
                if deadline is None:
                    raise
                # Rolled back: the row stays pending for the next poll (here or elsewhere).
                metrics.DEADLINE_FAILURES.inc()
                log.exception(
                    "deadline %d of timer %s did not fire", deadline.id, deadline.timer_id
                )
                skip.add(deadline.id)
                continue
            metrics.count_decision(fired.decision, "timer")
            metrics.TIME_DRIVEN.labels(
                timer_state(fired.deadline), str(fired.decision["outcome"])
            ).inc()
            if self.on_fired is not None:
                try:
                    self.on_fired(fired)
                except Exception:
                    log.exception("after firing deadline %d", fired.deadline.id)
            return fired

    def poll(self, limit: int = BATCH) -> int:
        """Fire every deadline due now (at most ``limit``); return how many fired."""
        skip: set[int] = set()
        count = 0
        while count < limit and self.fire_next(skip) is not None:
            count += 1
        return count

    def start(self, interval: float) -> None:
        """Poll in a background thread, at once and then every ``interval`` seconds.

        The thread holds the claimer weakly: it ends when the claimer is stopped
        or dropped (an application torn down), never polling a database nobody uses.
        """
        self._thread = threading.Thread(
            target=_loop,
            args=(weakref.ref(self), self._stop, interval),
            name="timer-claimer",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread after the deadline it is firing."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)


def _loop(ref: weakref.ref[Claimer], stop: threading.Event, interval: float) -> None:
    while not stop.is_set():
        claimer = ref()
        if claimer is None:
            return
        try:
            while claimer.poll() == BATCH and not stop.is_set():
                pass  # more are due: keep going without waiting
        except Exception:
            log.exception("timer claimer")
        del claimer  # hold no reference while waiting
        if stop.wait(interval):
            return
