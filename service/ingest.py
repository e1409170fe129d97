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
from service.store import codec, pgevent, sqlevent
from service.store import repository as repo
from service.store import webhooks as hooks
from service.store.repository import Store
from service.store.writes import Write, first_on_driver, run, run_on_driver, translated
from service.timers import deadlines as timers
from service.webhooks import outbox

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
    if store.engine.dialect.name == "postgresql":
        return _once_postgres(store, policy, case_id, event, body, digest, caller, now)
    return _once_sqlite(store, policy, case_id, event, body, digest, caller, now)


def _once_sqlite(
    store: Store,
    policy: Policy,
    case_id: str,
    event: Event,
    body: Mapping[str, Any],
    digest: str,
    caller: str | None,
    now: datetime,
) -> Ingested:
    """Ingest on SQLite: decide outside the writer lock, write in a group commit.

    The decision is made from committed state read in a read transaction,
    which never waits for the writer.  Under the writer lock the event's job
    checks that the case (its event_count), the customer and the agents'
    generation are as read; if not, it decides again there, from the locked
    state, as every event once did.
    """
    agent_id = event.agent_id
    with sqlevent.reading(store.engine) as driver:
        read = sqlevent.read(driver, case_id, event.event_id, event.customer_id, agent_id, now)
    if read.stored is not None:
        return _duplicate(read.stored, case_id, digest, event.event_id)
    _check_customer(case_id, read.case, event)
    plan = _decide(
        policy, case_id, read.case, read.customer, read.agent, event, body, digest, caller, now
    )

    def write(conn: sa.Connection) -> Ingested:
        # The same read under the writer lock: one statement, compared raw.
        with translated(conn):
            now_at = sqlevent.version(
                sqlevent.driver_of(conn), case_id, event.event_id, event.customer_id, agent_id
            )
        if now_at != read.version:
            # Changed since it was read (another event of the case or customer,
            # an agent's profile): decide again from the locked state.
            case = repo.lock_case(conn, case_id, now)
            _check_customer(case_id, case, event)
            decision, seq = decide_and_store(
                conn, policy, case_id, case, event, body, digest, caller, now, agents=store.agents
            )
            return Ingested(decision, False, seq, case.customer_id or event.customer_id)
        # No second idempotency check: an event id stored since it was read
        # fails the insert (IntegrityError), and the next attempt finds it.
        # Through the driver: statements compiled once, none of SQLAlchemy's per-call work.
        run_on_driver(conn, read.creations(now))
        seq = int(first_on_driver(conn, repo.INSERT_EVENT, plan.event_row)[0])
        rules = [{"seq": seq, "rule_id": r} for r in plan.rule_ids]
        run_on_driver(conn, [repo.rules_write(rules), *plan.writes])
        webhooks.queue_decision(
            conn, plan.decision, customer_id=plan.customer_id, time_driven=False, now=now
        )
        return Ingested(plan.decision, False, seq, plan.customer_id)

    result: Ingested = store.group.run(write)
    return result


def _check_customer(case_id: str, case: repo.LockedCase, event: Event) -> None:
    if case.customer_id and event.customer_id and case.customer_id != event.customer_id:
        raise CustomerMismatch(
            f"case {case_id} belongs to customer {case.customer_id}, not {event.customer_id}"
        )


def _once_postgres(
    store: Store,
    policy: Policy,
    case_id: str,
    event: Event,
    body: Mapping[str, Any],
    digest: str,
    caller: str | None,
    now: datetime,
) -> Ingested:
    """Ingest on PostgreSQL in two round trips: read and lock; write and commit."""
    cached = store.agents.peek(event.agent_id) if event.agent_id else None
    with pgevent.event_transaction(store.engine) as transaction:
        read = transaction.read(
            case_id,
            event.event_id,
            event.customer_id,
            event.agent_id,
            cached[0] if cached is not None else None,
            now,
        )
        if read.stored is not None:
            transaction.rollback()
            return _duplicate(read.stored, case_id, digest, event.event_id)
        _check_customer(case_id, read.case, event)
        agent_id = event.agent_id or read.case.state.current_agent
        if read.agent_read or cached is None:
            profile = read.agent
            if agent_id:
                store.agents.put(read.agents_generation, agent_id, profile)
        else:
            profile = cached[1]  # current: the generation read is the one it was cached at
        plan = _decide(
            policy,
            case_id,
            read.case,
            read.customer or CustomerState(),
            profile or AgentProfile(id=agent_id),
            event,
            body,
            digest,
            caller,
            now,
        )
        # Endpoints read in this transaction: no second look at which are still enabled.
        deliveries = outbox.delivery_rows(
            plan.decision,
            read.subscriptions,
            customer_id=plan.customer_id,
            time_driven=False,
            now=now,
        )
        writes = [*plan.writes, hooks.deliveries_write(deliveries)] if deliveries else plan.writes
        seq = transaction.write_and_commit(plan.event_row, plan.rule_ids, writes)
    return Ingested(plan.decision, False, seq, plan.customer_id)


def _agent(
    conn: sa.Connection, cache: repo.AgentCache | None, agent_id: str | None
) -> tuple[int | None, AgentProfile]:
    """Return the agents' generation read (None when none was) and the event's agent profile.

    With a cache, the profile comes from it while the generation holds.
    """
    if not agent_id:
        return None, AgentProfile(id=agent_id)
    if cache is None:
        return None, repo.load_agent(conn, agent_id) or AgentProfile(id=agent_id)
    generation = repo.agents_generation(conn)
    found = cache.get(generation, agent_id, lambda: repo.load_agent(conn, agent_id))
    return generation, found or AgentProfile(id=agent_id)


@dataclass(frozen=True)
class _Plan:
    """A decision with every write that stores it, computed before any is sent."""

    decision: decide.Decision
    customer_id: str | None
    event_row: dict[str, Any]
    rule_ids: list[str]
    writes: list[Write]


def _decide(
    policy: Policy,
    case_id: str,
    case: repo.LockedCase,
    customer: CustomerState,
    agent: AgentProfile,
    event: Event,
    body: Mapping[str, Any],
    digest: str,
    caller: str | None,
    now: datetime,
    timer: Mapping[str, str] | None = None,
) -> _Plan:
    """Decide an event from the locked state and list what storing it writes (webhooks aside)."""
    customer_id = case.customer_id or event.customer_id
    snapshot = Snapshot(case=case.state, customer=customer, agent=agent)
    evaluation = decide.evaluate(policy, snapshot, event, case_id=case_id, now=now)
    decision = evaluation.decision
    if timer is not None:
        decision = replace(decision, trigger="timer", timer=timer)
    event_row = {
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
    }
    writes = [repo.case_write(evaluation.after.case, customer_id, case.event_count + 1, now)]
    if customer_id is not None:
        writes.append(repo.customer_write(evaluation.after.customer, now))
    # Timers the event starts, restarts or stops: committed with the event or not at all.
    writes += timers.event_writes(policy, case_id, event, evaluation.facts, now)
    rule_ids = sorted({m.rule.id for m in decision.matched})
    return _Plan(decision, customer_id, event_row, rule_ids, writes)


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
    agents: repo.AgentCache | None = None,
) -> tuple[decide.Decision, int]:
    """Decide an event on a case locked in ``conn`` and store everything it changes.

    The write path of a decision through SQLAlchemy: SQLite's posted events
    and the timers' deadline_reached events on both databases; return the
    decision and the event's seq.
    """
    customer_id = case.customer_id or event.customer_id
    customer = CustomerState()
    if customer_id is not None:
        customer = repo.lock_customer(conn, customer_id, now)
    _, agent = _agent(conn, agents, event.agent_id or case.state.current_agent)
    plan = _decide(policy, case_id, case, customer, agent, event, body, digest, caller, now, timer)
    seq = repo.insert_event(conn, plan.event_row, plan.rule_ids)
    run(conn, plan.writes)
    # Stored and queued for webhooks in one transaction, or neither; a timer's
    # decision is one nobody asked for (time_driven).
    webhooks.queue_decision(
        conn, plan.decision, customer_id=customer_id, time_driven=timer is not None, now=now
    )
    return plan.decision, seq


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
        except pgevent.OutcomeUnknown as exc:
            # Perhaps committed: the client's retry with the same event id gets
            # the stored decision, or stores the event now.
            raise StoreBusy(f"event {event.event_id} may not have been stored") from exc
        except sa.exc.OperationalError as exc:
            metrics.STORE_ERRORS.labels("retried").inc()
            if exc.connection_invalidated:
                # A connection lost before the COMMIT was sent (a restarted
                # server): nothing was written; a fresh connection does it all again.
                log.warning("connection lost on event %s; retrying", event.event_id)
                continue
            # SQLite busy past its timeout, or a PostgreSQL deadlock: try again.
            log.warning(
                "database busy on event %s (attempt %d): %s", event.event_id, attempt + 1, exc
            )
            time.sleep(0.05 * (attempt + 1))
    raise StoreBusy(f"the database stayed busy; event {event.event_id} was not stored")
