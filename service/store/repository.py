"""Reads and writes of cases, events, decisions, customers and agents.

Every function takes an open connection, so callers decide the transaction:
the events endpoint does all its work for one event in one transaction.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from service.cases.escalations import ESCALATION_WINDOW
from service.cases.model import AgentProfile, CaseState, CustomerState, Event, Snapshot
from service.engine.model import AgentLimits
from service.signals.detect import Signal
from service.store import codec
from service.store.group import GroupCommit
from service.store.schema import agents, cases, customers, decision_rules, events, generations
from service.store.writes import Write, run


class Store:
    """The database behind the service."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._writers = WriterQueue.for_engine(engine)
        self.agents = AgentCache()
        # SQLite's events: written in groups, one transaction per group (service.store.group).
        self.group = GroupCommit(self.write)

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """Open a write transaction: it commits when the block ends, rolls back on error."""
        with self._writers.turn(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """Open a read-only transaction, which never waits for writers."""
        with self.engine.connect() as conn:
            conn.execution_options(read_only=True)
            with conn.begin():
                yield conn

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.read() as conn:
            conn.execute(sa.text("SELECT 1"))


class WriterQueue:
    """Queue SQLite writers in the kernel rather than in SQLite's busy handler.

    SQLite lets one writer in at a time; the others sleep in its busy handler
    in steps of up to 100 ms, whatever the wait, which makes the slowest
    requests very slow.  Here writers of one process wait on a lock, and
    processes on an ``flock`` of a file beside the database, both of which
    wake the next writer as soon as the lock is free.  PostgreSQL needs none
    of this: its row locks queue writers per case.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid = -1

    @classmethod
    def for_engine(cls, engine: sa.Engine) -> WriterQueue:
        """Return a queue for a file-based SQLite engine, and a no-op queue otherwise."""
        database = engine.url.database
        if engine.dialect.name != "sqlite" or not database or database == ":memory:":
            return cls(None)
        return cls(Path(database).with_name(Path(database).name + ".writer-lock"))

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for this writer's turn."""
        if self.path is None:
            yield
            return
        with self._lock:
            if self._fd is None or self._pid != os.getpid():
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o640)
                self._pid = os.getpid()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)


# Statements used on every event are built once; executing them binds the values.
def _create_or_lock(table: sa.Table, key: str) -> dict[str, sa.Insert]:
    """Build, per dialect, one statement that creates a row if new and returns it locked.

    ``ON CONFLICT DO UPDATE`` (a no-op update of the key) takes the row lock on
    PostgreSQL as ``SELECT ... FOR UPDATE`` would, and returns the row either way,
    so the insert and the lock are one round trip instead of two.  On SQLite the
    write transaction (BEGIN IMMEDIATE) already holds the database.
    """
    statements: dict[str, sa.Insert] = {}
    for dialect, module in (("postgresql", postgresql), ("sqlite", sqlite)):
        insert = module.insert(table)
        statements[dialect] = insert.on_conflict_do_update(
            index_elements=[table.c[key]], set_={key: insert.excluded[key]}
        ).returning(*table.c)
    return statements


_CREATE_OR_LOCK_CASE = _create_or_lock(cases, "case_id")
_CREATE_OR_LOCK_CUSTOMER = _create_or_lock(customers, "customer_id")
_FIND_EVENT = sa.select(
    events.c.seq, events.c.case_id, events.c.body_hash, events.c.decision
).where(events.c.event_id == sa.bindparam("key"))
INSERT_EVENT = events.insert().returning(events.c.seq)
_INSERT_RULES = decision_rules.insert()
_SAVE_CASE = (
    cases.update()
    .where(cases.c.case_id == sa.bindparam("key"))
    .values(
        state=sa.bindparam("state"),
        customer_id=sa.bindparam("customer"),
        event_count=sa.bindparam("count"),
        updated_at=sa.bindparam("now"),
    )
)
_SAVE_CUSTOMER = (
    customers.update()
    .where(customers.c.customer_id == sa.bindparam("key"))
    .values(
        tier=sa.bindparam("tier"),
        flags=sa.bindparam("flags"),
        flag_reasons=sa.bindparam("reasons"),
        unresolved_complaints=sa.bindparam("unresolved"),
        complaint_refs=sa.bindparam("refs"),
        escalations=sa.bindparam("escalated"),
        threats=sa.bindparam("threats"),
        updated_at=sa.bindparam("now"),
    )
)
_READ_CASE = sa.select(cases.c.customer_id, cases.c.state, cases.c.event_count).where(
    cases.c.case_id == sa.bindparam("key")
)
_READ_CUSTOMER = sa.select(customers).where(customers.c.customer_id == sa.bindparam("key"))
_LOAD_AGENT = sa.select(agents).where(agents.c.agent_id == sa.bindparam("key"))
_AGENTS_GENERATION = sa.select(generations.c.generation).where(generations.c.name == "agents")


def _bump(name: str) -> dict[str, sa.Insert]:
    """Build, per dialect, the statement that adds one to a generation (creating its row)."""
    statements: dict[str, sa.Insert] = {}
    for dialect, module in (("postgresql", postgresql), ("sqlite", sqlite)):
        insert = module.insert(generations).values(name=name, generation=1)
        statements[dialect] = insert.on_conflict_do_update(
            index_elements=[generations.c.name],
            set_={"generation": generations.c.generation + 1},
        )
    return statements


_BUMP_AGENTS = _bump("agents")


@dataclass(frozen=True)
class LockedCase:
    """A case row, locked for the rest of the transaction."""

    state: CaseState
    customer_id: str | None
    event_count: int


def lock_case(conn: sa.Connection, case_id: str, now: datetime) -> LockedCase:
    """Create the case if new, and lock its row until the transaction ends (one statement)."""
    row = conn.execute(
        _CREATE_OR_LOCK_CASE[conn.dialect.name],
        {"case_id": case_id, "state": {}, "event_count": 0, "created_at": now, "updated_at": now},
    ).one()
    return LockedCase(codec.case_from_json(case_id, row.state), row.customer_id, row.event_count)


@dataclass(frozen=True)
class StoredEvent:
    """An event already stored, with the decision it got."""

    seq: int
    case_id: str
    body_hash: str
    decision: dict[str, Any]


def find_event(conn: sa.Connection, event_id: str) -> StoredEvent | None:
    """Return the stored event with this id, if any."""
    row = conn.execute(_FIND_EVENT, {"key": event_id}).first()
    if row is None:
        return None
    return StoredEvent(row.seq, row.case_id, row.body_hash, dict(row.decision))


def recent_escalations(stamps: Sequence[str], now: datetime) -> tuple[datetime, ...]:
    """Return the escalation times of the last ESCALATION_WINDOW before ``now``."""
    return tuple(
        moment
        for moment in (codec.parse_stamp(s) for s in stamps)
        if moment > now - ESCALATION_WINDOW
    )


def new_customer(customer_id: str, now: datetime) -> dict[str, Any]:
    """Return the row a customer starts with."""
    return {
        "customer_id": customer_id,
        "tier": "standard",
        "flags": [],
        "flag_reasons": {},
        "unresolved_complaints": 0,
        "complaint_refs": [],
        "escalations": [],
        "threats": [],
        "updated_at": now,
    }


def lock_customer(conn: sa.Connection, customer_id: str, now: datetime) -> CustomerState:
    """Create the customer if new and lock the row (one statement); count recent escalations."""
    row = conn.execute(
        _CREATE_OR_LOCK_CUSTOMER[conn.dialect.name], new_customer(customer_id, now)
    ).one()
    return codec.customer_from_row(row, recent_escalations(row.escalations, now))


def read_customer(conn: sa.Connection, customer_id: str, now: datetime) -> CustomerState:
    """Return a customer's state without locking or creating it (a new one's, when absent)."""
    row: Any = conn.execute(_READ_CUSTOMER, {"key": customer_id}).first()
    if row is None:
        row = SimpleNamespace(**new_customer(customer_id, now))
    return codec.customer_from_row(row, recent_escalations(row.escalations, now))


def read_case(conn: sa.Connection, case_id: str) -> LockedCase:
    """Return a case as stored, without locking or creating it (a new one's, when absent).

    Its event_count is its version: every event stored on the case adds one.
    """
    row = conn.execute(_READ_CASE, {"key": case_id}).first()
    if row is None:
        return LockedCase(codec.case_from_json(case_id, {}), None, 0)
    return LockedCase(codec.case_from_json(case_id, row.state), row.customer_id, row.event_count)


def customer_write(state: CustomerState, now: datetime) -> Write:
    """Return the write that stores a customer's state back."""
    assert state.id is not None
    return Write(
        _SAVE_CUSTOMER,
        [
            {
                "key": state.id,
                "tier": state.tier,
                "flags": list(state.flags),
                "reasons": dict(state.flag_reasons),
                "unresolved": state.unresolved_complaints,
                "refs": codec.refs_to_json(state.unresolved_complaint_refs),
                "escalated": [codec.stamp(m) for m in state.escalated_at],
                "threats": codec.threats_to_json(state.threats),
                "now": now,
            }
        ],
    )


def save_customer(conn: sa.Connection, state: CustomerState, now: datetime) -> None:
    """Write a customer's state back."""
    run(conn, [customer_write(state, now)])


def case_write(state: CaseState, customer_id: str | None, event_count: int, now: datetime) -> Write:
    """Return the write that stores a case's aggregates back."""
    assert state.case_id is not None
    return Write(
        _SAVE_CASE,
        [
            {
                "key": state.case_id,
                "state": codec.case_to_json(state),
                "customer": customer_id,
                "count": event_count,
                "now": now,
            }
        ],
    )


def save_case(
    conn: sa.Connection, state: CaseState, customer_id: str | None, event_count: int, now: datetime
) -> None:
    """Write a case's aggregates back."""
    run(conn, [case_write(state, customer_id, event_count, now)])


def rules_write(rows: Sequence[Mapping[str, Any]]) -> Write:
    """Return the write that indexes an event's matched rules (rows of seq and rule_id)."""
    return Write(_INSERT_RULES, rows)


def insert_event(conn: sa.Connection, row: dict[str, Any], rule_ids: Sequence[str]) -> int:
    """Store an event with its decision and index its matched rules; return its sequence number."""
    seq: int = conn.execute(INSERT_EVENT, row).scalar_one()
    if rule_ids:
        conn.execute(_INSERT_RULES, [{"seq": seq, "rule_id": r} for r in rule_ids])
    return seq


def agent_from_row(row: Any) -> AgentProfile:
    """Build an agent's profile from its row."""
    limits = None
    if None not in (row.max_complexity, row.max_hostility, row.max_minutes):
        limits = AgentLimits(row.max_complexity, row.max_hostility, row.max_minutes)
    return AgentProfile(id=row.agent_id, limits=limits, skills=tuple(row.skills))


def load_agent(conn: sa.Connection, agent_id: str) -> AgentProfile | None:
    """Return an agent's profile, or None for an agent without one."""
    row = conn.execute(_LOAD_AGENT, {"key": agent_id}).first()
    return None if row is None else agent_from_row(row)


def agents_generation(conn: sa.Connection) -> int | None:
    """Return the agents' generation, which every change of a profile bumps (None: no row)."""
    found = conn.execute(_AGENTS_GENERATION).scalar()
    return None if found is None else int(found)


def put_agent(conn: sa.Connection, profile: AgentProfile, now: datetime) -> bool:
    """Create or replace an agent's profile; return True when it was created.

    The agents' generation is bumped in the same transaction: every worker of
    every server reads it with its next event and drops its cached profiles.
    """
    assert profile.id is not None
    limits = profile.limits
    values = {
        "max_complexity": limits.max_complexity if limits else None,
        "max_hostility": limits.max_hostility if limits else None,
        "max_minutes": limits.max_minutes if limits else None,
        "skills": list(profile.skills),
        "updated_at": now,
    }
    conn.execute(_BUMP_AGENTS[conn.dialect.name])
    updated = conn.execute(agents.update().where(agents.c.agent_id == profile.id).values(**values))
    if updated.rowcount:
        return False
    conn.execute(agents.insert().values(agent_id=profile.id, **values))
    return True


class AgentCache:
    """Agent profiles of one database as last read, valid while the agents' generation holds.

    Every event reads the generation in the round trip that locks its case;
    a profile changed anywhere bumps it, so no decision is made from a profile
    older than the event's transaction start.  Bounded: past ``LIMIT`` agents
    the cache starts again.
    """

    LIMIT = 10_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._profiles: dict[str, AgentProfile | None] = {}

    def peek(self, agent_id: str) -> tuple[int, AgentProfile | None] | None:
        """Return the generation the cache holds and the agent's profile in it, if cached."""
        with self._lock:
            if self._generation is None or agent_id not in self._profiles:
                return None
            return self._generation, self._profiles[agent_id]

    def put(self, generation: int | None, agent_id: str, profile: AgentProfile | None) -> None:
        """Remember a profile read at ``generation`` (None: the database has no counter row)."""
        if generation is None:
            return
        with self._lock:
            if self._generation is None or generation > self._generation:
                self._generation = generation
                self._profiles = {}
            # A reader of an older generation never fills the cache of a newer one.
            if generation == self._generation:
                if len(self._profiles) >= self.LIMIT:
                    self._profiles = {}
                self._profiles[agent_id] = profile

    def get(
        self, generation: int | None, agent_id: str, load: Callable[[], AgentProfile | None]
    ) -> AgentProfile | None:
        """Return the profile of ``agent_id`` at ``generation``; ``load`` it when not cached."""
        if generation is None:
            return load()  # a database without the counter row: never cache
        with self._lock:
            if self._generation is None or generation > self._generation:
                self._generation = generation
                self._profiles = {}
            if generation == self._generation and agent_id in self._profiles:
                return self._profiles[agent_id]
        found = load()
        self.put(generation, agent_id, found)
        return found


@dataclass(frozen=True)
class DecisionRow:
    """A stored decision with when it was received and the customer of its case."""

    decision: codec.StoredDecision
    received_at: datetime
    customer_id: str | None


@dataclass(frozen=True)
class CaseView:
    """A case as the service sees it."""

    case_id: str
    state: CaseState
    customer: CustomerState | None
    event_count: int
    created_at: datetime
    updated_at: datetime
    decisions: list[DecisionRow]


# Any select over the events table, keeping its row type.
_Select = TypeVar("_Select", bound="sa.Select[*tuple[Any, ...]]")


def decision_row(row: Any) -> DecisionRow:
    """Build a stored decision from an events row with decision, received_at and customer_id."""
    return DecisionRow(
        codec.decision_from_json(row.decision), codec.aware(row.received_at), row.customer_id
    )


def filter_decisions(
    select: _Select,
    *,
    case_id: str | None = None,
    customer_id: str | None = None,
    outcome: str | None = None,
) -> _Select:
    """Narrow a select over events to one case, customer and outcome, where given."""
    if case_id is not None:
        select = select.where(events.c.case_id == case_id)
    if customer_id is not None:
        select = select.where(events.c.customer_id == customer_id)
    if outcome is not None:
        select = select.where(events.c.outcome == outcome)
    return select


def get_case(conn: sa.Connection, case_id: str, now: datetime, recent: int = 20) -> CaseView | None:
    """Return a case with its customer and its most recent decisions."""
    row = conn.execute(sa.select(cases).where(cases.c.case_id == case_id)).first()
    if row is None:
        return None
    customer = None
    if row.customer_id is not None:
        found = conn.execute(
            sa.select(customers).where(customers.c.customer_id == row.customer_id)
        ).first()
        if found is not None:
            customer = codec.customer_from_row(found, recent_escalations(found.escalations, now))
    decisions = [
        decision_row(r)
        for r in conn.execute(
            sa.select(events.c.decision, events.c.received_at, events.c.customer_id)
            .where(events.c.case_id == case_id)
            .order_by(events.c.seq.desc())
            .limit(recent)
        )
    ]
    return CaseView(
        case_id=case_id,
        state=codec.case_from_json(case_id, row.state),
        customer=customer,
        event_count=row.event_count,
        created_at=codec.aware(row.created_at),
        updated_at=codec.aware(row.updated_at),
        decisions=decisions,
    )


# A feed position: (transaction id, sequence number) of a stored decision.
Position = tuple[int, int]
# Rows of transactions at or past this id may still be joined by rows of older
# transactions in flight, so the feed stops before them (docs/decision-feed.md).
_HORIZON: sa.ColumnElement[int] = sa.literal_column(
    "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
)


@dataclass(frozen=True)
class DecisionQuery:
    """Filters of the decision log."""

    case_id: str | None = None
    customer_id: str | None = None
    rule: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    # Cursor: the position of the last decision already read, or the sequence
    # number an earlier version handed out (read as "after that number").
    after: Position | int | None = None
    order: str = "asc"  # or "desc": newest first
    limit: int = 50


def list_decisions(conn: sa.Connection, query: DecisionQuery) -> list[tuple[Position, DecisionRow]]:
    """Return stored decisions that pass every filter, in feed order, with their positions.

    Feed order is (txid, seq).  On PostgreSQL sequence numbers are taken before
    commit, so they commit out of order; only rows of transactions older than
    every transaction still in flight are returned, so a row can never appear
    behind a position a reader has passed.  SQLite has one writer at a time:
    txid is 0 and seq order is commit order.
    """
    newest_first = query.order == "desc"
    feed = sa.tuple_(events.c.txid, events.c.seq)
    select = sa.select(
        events.c.txid, events.c.seq, events.c.decision, events.c.received_at, events.c.customer_id
    ).order_by(
        *(
            (events.c.txid.desc(), events.c.seq.desc())
            if newest_first
            else (events.c.txid, events.c.seq)
        )
    )
    if conn.dialect.name == "postgresql":
        select = select.where(events.c.txid < _HORIZON)
    select = filter_decisions(
        select, case_id=query.case_id, customer_id=query.customer_id, outcome=query.outcome
    )
    if query.since is not None:
        select = select.where(events.c.received_at >= query.since)
    if query.until is not None:
        select = select.where(events.c.received_at < query.until)
    if isinstance(query.after, int):
        # An old cursor: the following page continues from a position, so
        # nothing is skipped (a decision written in the same moment may repeat).
        after_seq = events.c.seq < query.after if newest_first else events.c.seq > query.after
        select = select.where(after_seq)
    elif query.after is not None:
        mark = sa.tuple_(*(sa.literal(n, sa.BigInteger) for n in query.after))
        select = select.where(feed < mark if newest_first else feed > mark)
    if query.rule is not None:
        select = select.where(
            events.c.seq.in_(
                sa.select(decision_rules.c.seq).where(decision_rules.c.rule_id == query.rule)
            )
        )
    return [
        ((int(r.txid), int(r.seq)), decision_row(r))
        for r in conn.execute(select.limit(query.limit))
    ]


def unlogged(conn: sa.Connection, before: datetime, limit: int) -> list[Any]:
    """Return stored decisions not yet in the decision log, received before ``before``."""
    return list(
        conn.execute(
            sa.select(events)
            .where(events.c.logged.is_(False), events.c.received_at < before)
            .order_by(events.c.seq)
            .limit(limit)
        )
    )


def mark_logged(conn: sa.Connection, seqs: Sequence[int]) -> None:
    """Record that these decisions are in the decision log."""
    if seqs:
        conn.execute(events.update().where(events.c.seq.in_(list(seqs))).values(logged=True))


def case_consistency(conn: sa.Connection, case_id: str) -> tuple[int, int]:
    """Return (stored events, the case's event count): equal unless something was half-stored."""
    stored = conn.execute(
        sa.select(sa.func.count()).select_from(events).where(events.c.case_id == case_id)
    ).scalar_one()
    count = conn.execute(
        sa.select(cases.c.event_count).where(cases.c.case_id == case_id)
    ).scalar_one()
    return int(stored), int(count)


@dataclass(frozen=True)
class StoredForReplay:
    """A stored event with what replay reads: the event, the state before it, its decision.

    ``snapshot`` is None for events stored before the state was recorded;
    ``kept_signals`` is None unless the event's text was purged (docs/retention.md).
    """

    seq: int
    case_id: str
    event_id: str
    occurred_at: datetime
    received_at: datetime
    rules_revision: str
    event: Event
    snapshot: Snapshot | None
    decision: Mapping[str, Any]
    kept_signals: tuple[Signal, ...] | None = None


_REPLAY_COLUMNS = (
    events.c.seq,
    events.c.case_id,
    events.c.event_id,
    events.c.occurred_at,
    events.c.received_at,
    events.c.rules_revision,
    events.c.event,
    events.c.snapshot,
    events.c.decision,
    events.c.purged_at,
    events.c.kept_signals,
)
# Rows fetched from the database at a time: memory stays flat however long the window.
REPLAY_BATCH = 1000


def _in_window(select: Any, since: datetime | None, until: datetime | None) -> Any:
    if since is not None:
        select = select.where(events.c.received_at >= since)
    if until is not None:
        select = select.where(events.c.received_at < until)
    return select


def _first_of_window(
    conn: sa.Connection, since: datetime | None, until: datetime | None, limit: int
) -> int | None:
    """Return the sequence number of the oldest of the ``limit`` newest events in the window."""
    newest = _in_window(sa.select(events.c.seq), since, until).order_by(events.c.seq.desc())
    first: int | None = conn.execute(newest.offset(limit - 1).limit(1)).scalar()
    return first


def count_for_replay(
    conn: sa.Connection,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> int:
    """Return how many events ``events_for_replay`` yields for the same window."""
    query = _in_window(sa.select(sa.func.count()).select_from(events), since, until)
    total = int(conn.execute(query).scalar_one())
    return total if limit is None else max(0, min(total, limit))


def events_for_replay(
    conn: sa.Connection,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> Iterator[StoredForReplay]:
    """Yield the newest ``limit`` events received in [since, until), oldest first, streamed."""
    select = _in_window(sa.select(*_REPLAY_COLUMNS), since, until).order_by(events.c.seq)
    if limit is not None:
        if limit <= 0:
            return
        first = _first_of_window(conn, since, until, limit)
        if first is not None:
            select = select.where(events.c.seq >= first)
    rows = conn.execute(select, execution_options={"yield_per": REPLAY_BATCH})
    try:
        for row in rows:
            yield StoredForReplay(
                seq=row.seq,
                case_id=row.case_id,
                event_id=row.event_id,
                occurred_at=codec.aware(row.occurred_at),
                received_at=codec.aware(row.received_at),
                rules_revision=row.rules_revision,
                event=codec.event_from_json(row.event),
                snapshot=None if row.snapshot is None else codec.snapshot_from_json(row.snapshot),
                decision=row.decision,
                kept_signals=None if row.purged_at is None else _signals(row.kept_signals),
            )
    finally:
        # A caller that stops early must not leave a server-side cursor open.
        rows.close()


def _signals(kept: Sequence[Mapping[str, str]] | None) -> tuple[Signal, ...]:
    """Rebuild the signals kept for a purged event; their evidence (the words) is gone."""
    return tuple(
        Signal(s["name"], s["language"], "", s.get("entry", ""), s.get("source", ""), 0, 0)
        for s in kept or ()
    )


def records_snapshots(conn: sa.Connection) -> bool:
    """Tell whether the database stores the state of each event (schema revision 0003 on)."""
    inspector = sa.inspect(conn)
    if not inspector.has_table("events"):
        return False
    return any(column["name"] == "snapshot" for column in inspector.get_columns("events"))


def escalation_counts(conn: sa.Connection, since: datetime) -> tuple[int, int]:
    """Return how many events were stored since ``since`` and how many of them escalated.

    A range scan of ``ix_events_received``: the metrics scrape runs it.
    """
    escalated = sa.func.coalesce(
        sa.func.sum(sa.case((events.c.outcome == "escalate", 1), else_=0)), 0
    )
    row = conn.execute(
        sa.select(sa.func.count(), escalated).where(events.c.received_at >= since)
    ).one()
    return int(row[0]), int(row[1])
