"""Ingest one case event: decide and store it, exactly once, in one transaction.

The case row is locked first, then the customer row (always in that order,
so two transactions never wait on each other in a cycle).  Inside the lock:
the idempotency check, the decision and the writes.  Every change to the
case, customer and agent state is computed by ``decide.evaluate`` (through
``service/cases``), exactly as in the dry run; this module only loads, locks
and saves.  A commit is what makes the answer true; nothing is acknowledged
before it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from service import decide, metrics, webhooks
from service.cases.model import AgentProfile, CustomerState, Event, Snapshot
from service.policy import Policy
from service.store import codec
from service.store import repository as repo
from service.store.repository import Store
from service.timers import deadlines as timers

log = logging.getLogger(__name__)

ATTEMPTS = 5


class IdempotencyConflict(Exception):
    """The event id is already taken by a different event."""


class CustomerMismatch(Exception):
    """The event names a customer other than the case's."""


class StoreBusy(Exception):
    """The database stayed busy past every retry."""


@dataclass(frozen=True)
class Ingested:
    """The outcome of ingesting one event: the decision made now, or the one stored before."""

    decision: decide.Decision | codec.StoredDecision
    duplicate: bool
    seq: int
    customer_id: str | None


def body_hash(body: Mapping[str, Any]) -> str:
    """Hash an event body so that retries with the same content compare equal."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _duplicate(stored: repo.StoredEvent, case_id: str, digest: str, event_id: str) -> Ingested:
    if stored.case_id != case_id:
        raise IdempotencyConflict(f"event {event_id} was already sent for case {stored.case_id}")
    if stored.body_hash != digest:
        raise IdempotencyConflict(f"event {event_id} was already sent with a different body")
    decision = replace(codec.decision_from_json(stored.decision), duplicate=True)
    return Ingested(decision, True, stored.seq, None)


def _once(
    store: Store,
    policy: Policy,
    case_id: str,
    event: Event,
    body: Mapping[str, Any],
    digest: str,
    caller: str | None,
    now: datetime,
) -> Ingested:
    with store.write() as conn:
        case = repo.lock_case(conn, case_id, now)
        stored = repo.find_event(conn, event.event_id)
        if stored is not None:
            return _duplicate(stored, case_id, digest, event.event_id)
        if case.customer_id and event.customer_id and case.customer_id != event.customer_id:
            raise CustomerMismatch(
                f"case {case_id} belongs to customer {case.customer_id}, not {event.customer_id}"
            )
        decision, seq = decide_and_store(
            conn, policy, case_id, case, event, body, digest, caller, now
        )
    return Ingested(decision, False, seq, case.customer_id or event.customer_id)


def decide_and_store(
    conn: sa.Connection,
    policy: Policy,
    case_id: str,
    case: repo.LockedCase,
    event: Event,
    body: Mapping[str, Any],
    digest: str,
    caller: str | None,
    now: datetime,
    *,
    timer: Mapping[str, str] | None = None,
) -> tuple[decide.Decision, int]:
    """Decide an event on a case locked in ``conn`` and store everything it changes.

    The one write path of a decision, for posted events and for the timers'
    deadline_reached events alike; return the decision and the event's seq.
    """
    customer_id = case.customer_id or event.customer_id
    customer = CustomerState()
    if customer_id is not None:
        customer = repo.lock_customer(conn, customer_id, now)
    agent_id = event.agent_id or case.state.current_agent
    agent = (repo.load_agent(conn, agent_id) if agent_id else None) or AgentProfile(id=agent_id)

    snapshot = Snapshot(case=case.state, customer=customer, agent=agent)
    evaluation = decide.evaluate(policy, snapshot, event, case_id=case_id, now=now)
    decision = evaluation.decision
    if timer is not None:
        decision = replace(decision, trigger="timer", timer=timer)
    seq = repo.insert_event(
        conn,
        {
            "event_id": event.event_id,
            "case_id": case_id,
            "body_hash": digest,
            "type": event.type,
            "occurred_at": event.occurred_at,
            "received_at": now,
            "event": dict(body),
            "decision_id": decision.decision_id,
            "decision": codec.decision_to_json(decision),
            "outcome": decision.outcome,
            "customer_id": customer_id,
            "rules_revision": decision.rules_revision,
            "caller": caller,
            # What replay re-decides the event from (docs/replay.md).
            "snapshot": codec.snapshot_to_json(snapshot),
        },
        sorted({m.rule.id for m in decision.matched}),
    )
    repo.save_case(conn, evaluation.after.case, customer_id, case.event_count + 1, now)
    if customer_id is not None:
        repo.save_customer(conn, evaluation.after.customer, now)
    # Timers the event starts, restarts or stops: committed with the event or not at all.
    timers.on_event(conn, policy, case_id, event, evaluation.facts, now)
    # Stored and queued for webhooks in one transaction, or neither; a timer's
    # decision is one nobody asked for (time_driven).
    webhooks.queue_decision(
        conn, decision, customer_id=customer_id, time_driven=timer is not None, now=now
    )
    return decision, seq


def ingest(
    store: Store,
    policy: Policy,
    case_id: str,
    event: Event,
    body: Mapping[str, Any],
    caller: str | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Ingested:
    """Decide and store one event; the same event again returns the stored decision.

    Raise IdempotencyConflict when the event id is taken by a different event,
    CustomerMismatch when the event names another customer than the case's,
    and StoreBusy when the database stays locked past every retry.
    """
    digest = body_hash(body)
    for attempt in range(ATTEMPTS):
        try:
            return _once(store, policy, case_id, event, body, digest, caller, clock())
        except sa.exc.IntegrityError:
            # The same event id was committed meanwhile (for another case, or a
            # racing retry): the next attempt finds it and answers accordingly.
            metrics.STORE_ERRORS.labels("retried").inc()
            log.info("event %s raced with another insert; retrying", event.event_id)
        except sa.exc.OperationalError as exc:
            # SQLite busy past its timeout, or a PostgreSQL deadlock: try again.
            metrics.STORE_ERRORS.labels("retried").inc()
            log.warning(
                "database busy on event %s (attempt %d): %s", event.event_id, attempt + 1, exc
            )
            time.sleep(0.05 * (attempt + 1))
    raise StoreBusy(f"the database stayed busy; event {event.event_id} was not stored")
