"""Turn case, customer and agent state, snapshots, decisions and stored events into JSON and back.

Stored decisions use this module's format, not the API's schema.  Its keys
are those of the V1 decision (rows written before it had its own codec hold
exactly a V1 dump, and read back the same), so the decision log and replay
read every row alike; the API turns what ``decision_from_json`` returns into
the wire form with its own schema.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Protocol

from service.cases.model import (
    AgentProfile,
    CaseState,
    ComplaintRef,
    CustomerState,
    Escalated,
    Event,
    Snapshot,
    ThreatMark,
)
from service.engine.model import AgentLimits
from service.signals.detect import Signal

_SCALARS = tuple(
    f.name
    for f in fields(CaseState)
    if f.name not in ("case_id", "last_event_at", "last_escalations", "open_escalations")
)


def stamp(moment: datetime) -> str:
    """Return an ISO 8601 UTC timestamp."""
    return moment.astimezone(UTC).isoformat()


def parse_stamp(text: str) -> datetime:
    """Parse an ISO 8601 timestamp into an aware UTC datetime."""
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def aware(moment: datetime) -> datetime:
    """Return a datetime read from the database as aware UTC (SQLite drops the zone)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def case_to_json(state: CaseState) -> dict[str, Any]:
    """Serialise a case's aggregates."""
    data: dict[str, Any] = {name: getattr(state, name) for name in _SCALARS}
    data["last_event_at"] = stamp(state.last_event_at) if state.last_event_at else None
    data["last_escalations"] = _escalations_to_json(state.last_escalations)
    data["open_escalations"] = _escalations_to_json(state.open_escalations)
    return data


def _escalations_to_json(escalations: Mapping[str, Escalated]) -> dict[str, Any]:
    return {
        target: {"at": stamp(e.at), "severity": e.severity, "rule": e.rule}
        for target, e in escalations.items()
    }


def _escalations_from_json(data: Mapping[str, Any] | None) -> dict[str, Escalated]:
    return {
        target: Escalated(at=parse_stamp(e["at"]), severity=int(e["severity"]), rule=str(e["rule"]))
        for target, e in (data or {}).items()
    }


def case_from_json(case_id: str | None, data: Mapping[str, Any]) -> CaseState:
    """Rebuild a case's aggregates; unknown keys are ignored, missing ones take defaults."""
    values = {name: data[name] for name in _SCALARS if name in data}
    last = data.get("last_event_at")
    return CaseState(
        case_id=case_id,
        last_event_at=parse_stamp(last) if last else None,
        last_escalations=_escalations_from_json(data.get("last_escalations")),
        open_escalations=_escalations_from_json(data.get("open_escalations")),
        **values,
    )


def refs_to_json(refs: tuple[ComplaintRef, ...]) -> list[dict[str, str]]:
    """Serialise complaint references."""
    return [{"case_id": r.case_id, "opened_at": stamp(r.opened_at)} for r in refs]


def refs_from_json(data: list[dict[str, str]]) -> tuple[ComplaintRef, ...]:
    """Rebuild complaint references."""
    return tuple(ComplaintRef(r["case_id"], parse_stamp(r["opened_at"])) for r in data)


def threats_to_json(threats: tuple[ThreatMark, ...]) -> list[dict[str, Any]]:
    """Serialise a customer's remembered threats."""
    return [{"at": stamp(t.at), "kind": t.kind, "case_id": t.case_id} for t in threats]


def threats_from_json(data: list[dict[str, Any]] | None) -> tuple[ThreatMark, ...]:
    """Rebuild a customer's remembered threats (None, from rows before 0006: none)."""
    return tuple(
        ThreatMark(parse_stamp(t["at"]), str(t["kind"]), t.get("case_id")) for t in data or ()
    )


def customer_from_row(row: Any, escalated_at: tuple[datetime, ...]) -> CustomerState:
    """Build a customer's state from its row, given its recent new escalations."""
    return CustomerState(
        id=row.customer_id,
        tier=row.tier,
        flags=tuple(row.flags),
        flag_reasons=dict(row.flag_reasons),
        unresolved_complaints=row.unresolved_complaints,
        escalations_30d=len(escalated_at),
        unresolved_complaint_refs=refs_from_json(row.complaint_refs),
        escalated_at=escalated_at,
        threats=threats_from_json(row.threats),
    )


def snapshot_to_json(snapshot: Snapshot) -> dict[str, Any]:
    """Serialise the state an event is decided from: case, customer and agent."""
    case, customer, agent = snapshot.case, snapshot.customer, snapshot.agent
    limits = agent.limits
    return {
        "case": {"case_id": case.case_id, **case_to_json(case)},
        "customer": {
            "id": customer.id,
            "tier": customer.tier,
            "flags": list(customer.flags),
            "flag_reasons": dict(customer.flag_reasons),
            "unresolved_complaints": customer.unresolved_complaints,
            "escalations_30d": customer.escalations_30d,
            "complaint_refs": refs_to_json(customer.unresolved_complaint_refs),
            "escalated_at": [stamp(t) for t in customer.escalated_at],
            "threats": threats_to_json(customer.threats),
        },
        "agent": {
            "id": agent.id,
            "limits": None
            if limits is None
            else {
                "max_complexity": limits.max_complexity,
                "max_hostility": limits.max_hostility,
                "max_minutes": limits.max_minutes,
            },
            "skills": list(agent.skills),
        },
    }


def snapshot_from_json(data: Mapping[str, Any]) -> Snapshot:
    """Rebuild the state an event was decided from; missing keys take defaults, as for cases."""
    case = data.get("case") or {}
    customer = data.get("customer") or {}
    agent = data.get("agent") or {}
    limits = agent.get("limits")
    return Snapshot(
        case=case_from_json(case.get("case_id"), case),
        customer=CustomerState(
            id=customer.get("id"),
            tier=customer.get("tier", "standard"),
            flags=tuple(customer.get("flags", ())),
            flag_reasons=dict(customer.get("flag_reasons", {})),
            unresolved_complaints=customer.get("unresolved_complaints", 0),
            escalations_30d=customer.get("escalations_30d", 0),
            unresolved_complaint_refs=refs_from_json(customer.get("complaint_refs", [])),
            escalated_at=tuple(parse_stamp(t) for t in customer.get("escalated_at", ())),
            threats=threats_from_json(customer.get("threats")),
        ),
        agent=AgentProfile(
            id=agent.get("id"),
            limits=None if limits is None else AgentLimits(**limits),
            skills=tuple(agent.get("skills", ())),
        ),
    )


def event_from_json(body: Mapping[str, Any]) -> Event:
    """Rebuild an event from its stored body, which EventV1Schema accepted when it arrived."""
    customer = body.get("customer") or {}
    return Event(
        event_id=body["event_id"],
        type=body["type"],
        # The same reading as the API's: a trailing Z is UTC; every stored stamp has a zone.
        occurred_at=datetime.fromisoformat(
            body["occurred_at"].replace("Z", "+00:00").replace("z", "+00:00")
        ).astimezone(UTC),
        channel=body.get("channel"),
        customer_id=customer.get("id"),
        customer_tier=customer.get("tier"),
        agent_id=(body.get("agent") or {}).get("id"),
        text=body.get("text"),
        language=body.get("language"),
        attributes=dict(body.get("attributes") or {}),
    )


@dataclass(frozen=True)
class RuleRef:
    """The parts of a rule a stored decision keeps: enough to name it."""

    id: str
    title: str
    priority: int
    safety: bool


@dataclass(frozen=True)
class StoredMatch:
    """A rule that matched a stored decision, and why."""

    rule: RuleRef
    why: str


@dataclass(frozen=True)
class StoredEscalation:
    """An escalation of a stored decision."""

    to: str
    mode: str
    rule: str
    status: str


@dataclass(frozen=True)
class StoredSuppressed:
    """An escalation a cool-down held back, in a stored decision."""

    to: str
    rule: str
    until: datetime


@dataclass(frozen=True)
class StoredDecision:
    """A decision read back from the database, with the attributes of a decision just made."""

    decision_id: str
    case_id: str | None
    event_id: str
    outcome: str
    escalations: tuple[StoredEscalation, ...]
    route_to: str | None
    priority: str
    actions: tuple[dict[str, str], ...]
    guidance: tuple[str, ...]
    matched: tuple[StoredMatch, ...]
    signals: tuple[Signal, ...]
    suppressed: tuple[StoredSuppressed, ...]
    rules_revision: str
    evaluated_at: datetime
    duration_ms: float
    duplicate: bool = False
    trigger: str = "event"
    timer: Mapping[str, str] | None = None


# What the codec reads of a decision (service.decide.Decision, a layer above the store).


class _Escalation(Protocol):
    @property
    def to(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def rule(self) -> str: ...
    @property
    def status(self) -> str: ...


class _Rule(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def priority(self) -> int: ...
    @property
    def safety(self) -> bool: ...


class _Match(Protocol):
    @property
    def rule(self) -> _Rule: ...
    @property
    def why(self) -> str: ...


class _Suppressed(Protocol):
    @property
    def to(self) -> str: ...
    @property
    def rule(self) -> str: ...
    @property
    def until(self) -> datetime: ...


class DecisionLike(Protocol):
    """The attributes of a decision that are stored."""

    @property
    def decision_id(self) -> str: ...
    @property
    def case_id(self) -> str | None: ...
    @property
    def event_id(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def escalations(self) -> Sequence[_Escalation]: ...
    @property
    def route_to(self) -> str | None: ...
    @property
    def priority(self) -> str: ...
    @property
    def actions(self) -> Sequence[Mapping[str, str]]: ...
    @property
    def guidance(self) -> Sequence[str]: ...
    @property
    def matched(self) -> Sequence[_Match]: ...
    @property
    def signals(self) -> Sequence[Signal]: ...
    @property
    def suppressed(self) -> Sequence[_Suppressed]: ...
    @property
    def rules_revision(self) -> str: ...
    @property
    def evaluated_at(self) -> datetime: ...
    @property
    def duration_ms(self) -> float: ...
    @property
    def duplicate(self) -> bool: ...
    @property
    def trigger(self) -> str: ...
    @property
    def timer(self) -> Mapping[str, str] | None: ...


def decision_to_json(decision: DecisionLike) -> dict[str, Any]:
    """Serialise a decision for storage."""
    return {
        "decision_id": decision.decision_id,
        "case_id": decision.case_id,
        "event_id": decision.event_id,
        "outcome": decision.outcome,
        "escalations": [
            {"to": e.to, "mode": e.mode, "rule": e.rule, "status": e.status}
            for e in decision.escalations
        ],
        "route_to": decision.route_to,
        "priority": decision.priority,
        "actions": [dict(a) for a in decision.actions],
        "guidance": list(decision.guidance),
        "matched_rules": [
            {
                "id": m.rule.id,
                "title": m.rule.title,
                "priority": m.rule.priority,
                "safety": m.rule.safety,
                "why": m.why,
            }
            for m in decision.matched
        ],
        "signals": [
            {
                "name": s.name,
                "language": s.language,
                "evidence": s.evidence,
                "entry": s.entry,
                "source": s.source,
                "span": [s.start, s.end],
                "edits": list(s.edits),
            }
            for s in decision.signals
        ],
        "suppressed": [
            {"to": s.to, "rule": s.rule, "until": stamp(s.until)} for s in decision.suppressed
        ],
        "rules_revision": decision.rules_revision,
        "evaluated_at": stamp(decision.evaluated_at),
        "duration_ms": decision.duration_ms,
        "duplicate": decision.duplicate,
        "trigger": decision.trigger,
        "timer": dict(decision.timer) if decision.timer is not None else None,
    }


def decision_from_json(data: Mapping[str, Any]) -> StoredDecision:
    """Rebuild a stored decision; escalations stored before they had a status read as new."""
    return StoredDecision(
        decision_id=data["decision_id"],
        case_id=data.get("case_id"),
        event_id=data["event_id"],
        outcome=data["outcome"],
        escalations=tuple(
            StoredEscalation(e["to"], e["mode"], e["rule"], e.get("status", "new"))
            for e in data.get("escalations", ())
        ),
        route_to=data.get("route_to"),
        priority=data["priority"],
        actions=tuple(dict(a) for a in data.get("actions", ())),
        guidance=tuple(data.get("guidance", ())),
        matched=tuple(
            StoredMatch(RuleRef(m["id"], m["title"], m["priority"], m["safety"]), m["why"])
            for m in data.get("matched_rules", ())
        ),
        signals=tuple(
            Signal(
                s["name"],
                s["language"],
                s["evidence"],
                s["entry"],
                s["source"],
                s["span"][0],
                s["span"][1],
                tuple(s.get("edits", ())),
            )
            for s in data.get("signals", ())
        ),
        suppressed=tuple(
            StoredSuppressed(s["to"], s["rule"], parse_stamp(s["until"]))
            for s in data.get("suppressed", ())
        ),
        rules_revision=data["rules_revision"],
        evaluated_at=parse_stamp(data["evaluated_at"]),
        duration_ms=float(data["duration_ms"]),
        duplicate=bool(data.get("duplicate", False)),
        trigger=str(data.get("trigger", "event")),
        timer=dict(data["timer"]) if data.get("timer") else None,
    )
