"""Decide on one event: signals, state update, rule matching, explanation, merge.

This is the one path every decision takes, for the stateless dry run and for
case events alike.  It is pure apart from the engine call: the caller owns
storage and logging.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from service.cases.escalations import (
    NEW,
    Raised,
    announcing,
    apply_decision,
    sort_escalations,
)
from service.cases.model import Event, Snapshot
from service.cases.reduce import apply_event, threats_within
from service.engine.explain import ABSENT, Failure, explain, first_failure, hidden
from service.engine.facts import FactValue
from service.engine.merge import EscalationOut, Match, merge, outcome_of
from service.engine.model import Defaults, Rule
from service.masking import Readable
from service.policy import Policy
from service.signals.detect import Cancelled, Signal


@dataclass(frozen=True)
class Suppressed:
    """An escalation a cool-down held back."""

    to: str
    rule: str
    until: datetime


@dataclass(frozen=True)
class Miss:
    """A rule that did not match, and the first of its conditions that failed."""

    rule: Rule
    failed: Failure


@dataclass(frozen=True)
class Decision:
    """The service's answer to one event."""

    decision_id: str
    case_id: str | None
    event_id: str
    outcome: str
    escalations: tuple[EscalationOut, ...]
    route_to: str | None
    priority: str
    actions: tuple[dict[str, str], ...]
    guidance: tuple[str, ...]
    matched: tuple[Match, ...]
    signals: tuple[Signal, ...]
    rules_revision: str
    evaluated_at: datetime
    duration_ms: float
    suppressed: tuple[Suppressed, ...] = ()
    duplicate: bool = False
    not_matched: tuple[Miss, ...] = ()  # filled only when evaluate() is asked to explain misses
    cancelled: tuple[Cancelled, ...] = ()  # likewise: candidate signals cancelled, and by what
    # "event" for a caller's event; "timer" with the timer's id, state, due_at, started_by.
    trigger: str = "event"
    timer: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Evaluation:
    """A decision and the state after the event, for the caller to store."""

    decision: Decision
    after: Snapshot
    facts: Mapping[str, FactValue] = field(default_factory=dict)  # what the rules read


def facts_of(
    snapshot: Snapshot, event: Event, signals: tuple[Signal, ...], defaults: Defaults
) -> dict[str, FactValue]:
    """Build the flat fact view rules read (see the field reference in the README)."""
    case, customer, agent = snapshot.case, snapshot.customer, snapshot.agent
    limits = agent.limits or defaults.agent_limits
    facts: dict[str, FactValue] = {
        "event.type": event.type,
        "case.messages": case.messages,
        "case.hostility": case.hostility,
        "case.abusive_messages": case.abusive_messages,
        "case.threats": case.threats,
        "case.legal_threats": case.legal_threats,
        "case.physical_threats": case.physical_threats,
        "case.supervisor_requests": case.supervisor_requests,
        "case.complexity": case.complexity,
        "case.minutes_with_customer": case.minutes_with_customer,
        "case.open_complaints": case.open_complaints,
        "case.reopened_complaints": case.reopened_complaints,
        "case.status": case.status,
        "case.open_escalations": len(case.open_escalations),
        "case.escalated_to": tuple(sorted(case.open_escalations)),
        "customer.tier": customer.tier,
        "customer.flags": customer.flags,
        "customer.unresolved_complaints": customer.unresolved_complaints,
        "customer.escalations_30d": customer.escalations_30d,
        "customer.threats_90d": threats_within(customer, event),
        "customer.legal_threats_90d": threats_within(customer, event, "legal"),
        "customer.physical_threats_90d": threats_within(customer, event, "physical"),
        "agent.limits.max_complexity": limits.max_complexity,
        "agent.limits.max_hostility": limits.max_hostility,
        "agent.limits.max_minutes": limits.max_minutes,
        "agent.skills": agent.skills,
        "signals": tuple(sorted({s.name for s in signals})),
    }
    optional: dict[str, str | None] = {
        "event.channel": event.channel,
        "event.language": event.language,
        "event.text": event.text,
        "case.topic": case.topic,
        "customer.id": customer.id,
        "agent.id": agent.id,
    }
    facts.update({k: v for k, v in optional.items() if v is not None})
    for name, value in event.attributes.items():
        facts[f"event.attributes.{name}"] = value
    if event.type == "deadline_reached":
        # The timer that fell due (service/timers), read by rules as timer.id and timer.state.
        for name in ("id", "state"):
            told = event.attributes.get(f"timer_{name}")
            if isinstance(told, str):
                facts[f"timer.{name}"] = told
    return facts


def _placeholder(
    name: str, facts: dict[str, FactValue], snapshot: Snapshot, readable: Readable
) -> str:
    """Render one ``{placeholder}`` of guidance: a fact, or a value kept for guidance only."""
    customer = snapshot.customer
    if name == "customer.unresolved_complaint_refs":
        refs = customer.unresolved_complaint_refs
        return "; ".join(f"case {r.case_id} opened {r.opened_at:%Y-%m-%d}" for r in refs) or (
            "none on record"
        )
    if name == "customer.flag_reasons":
        reasons = customer.flag_reasons.items()
        return "; ".join(f"{flag}: {reason}" for flag, reason in reasons) or "no reasons on record"
    if name not in facts:
        return "(unknown)"
    value = facts[name]
    # Guidance is stored, logged and sent to every caller: no message text in it.
    stand_in = hidden(name, value, readable)
    if stand_in is not None:
        return stand_in
    return ", ".join(value) if isinstance(value, tuple) else str(value)


def why_signal(signal: Signal) -> str:
    """Say which lexicon entry made a signal, as ``why`` shows it: the entry, not the words."""
    return f"({signal.language}) matched entry '{signal.entry}' at {signal.source}"


def evaluate(
    policy: Policy,
    snapshot: Snapshot,
    event: Event,
    *,
    case_id: str | None,
    now: datetime | None = None,
    explain_misses: bool = False,
    signals: tuple[Signal, ...] | None = None,
) -> Evaluation:
    """Decide on ``event`` given the state before it; with ``explain_misses``, say why not.

    ``signals`` are the ones detected when the event arrived, for an event whose
    text was purged (replay); otherwise the text is searched for them.
    """
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    cancelled: tuple[Cancelled, ...] = ()
    if signals is None and explain_misses:
        signals, cancelled = policy.detector.explain(event.text, event.language)
    elif signals is None:
        signals = policy.detector.detect(event.text, event.language)
    after = apply_event(snapshot, event, [s.name for s in signals])
    facts = facts_of(after, event, signals, policy.ruleset.defaults)
    matched_ids = policy.engine.match(facts)

    # Why names the lexicon entry, never the words matched: it is stored and shown to all.
    evidence: dict[str, str] = {}
    for signal in signals:
        evidence.setdefault(signal.name, why_signal(signal))
    types = policy.compiled.field_types
    readable = policy.readable
    matches = [
        Match(rule, explain(rule.when, facts, types, evidence, readable))
        for rule in policy.ruleset.rules
        if rule.id in matched_ids
    ]
    merged = merge(matches, lambda name: _placeholder(name, facts, after, readable))
    sorted_ = sort_escalations(
        after.case,
        [Raised(e.to, e.severity, e.rule) for e in merged.escalations],
        merged.cooldowns,
        event.occurred_at,
    )
    escalations = tuple(
        replace(e, status=sorted_.status[e.to])
        for e in merged.escalations
        if e.to in sorted_.status
    )
    suppressed = tuple(
        Suppressed(e.to, e.rule, sorted_.held_until[e.to])
        for e in merged.escalations
        if e.to in sorted_.held_until
    )
    new = [e for e in escalations if e.status == NEW]
    actions = announcing(
        merged.actions,
        {m.rule.id: [e.to for e in m.rule.then.escalate] for m in merged.matched},
        frozenset(e.to for e in new),
    )
    after = apply_decision(
        after, [Raised(e.to, e.severity, e.rule) for e in new], actions, event.occurred_at
    )

    decision = Decision(
        decision_id=str(uuid.uuid4()),
        case_id=case_id,
        event_id=event.event_id,
        # Only a new escalation makes the outcome escalate: the escalation rate counts
        # escalations raised, not events in a case that is already escalated.
        outcome=outcome_of(new, merged.route_to),
        escalations=escalations,
        route_to=merged.route_to,
        priority=merged.priority,
        actions=actions,
        guidance=merged.guidance,
        matched=merged.matched,
        signals=signals,
        rules_revision=policy.revision,
        evaluated_at=now,
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
        suppressed=suppressed,
    )
    if explain_misses:
        decision = replace(
            decision, not_matched=misses(policy, facts, matched_ids), cancelled=cancelled
        )
    return Evaluation(decision=decision, after=after, facts=facts)


def misses(
    policy: Policy, facts: dict[str, FactValue], matched_ids: set[str] | frozenset[str]
) -> tuple[Miss, ...]:
    """Return every rule of the policy that did not match, in file order, with why not."""
    types = policy.compiled.field_types
    found = []
    for rule in policy.ruleset.rules:
        if rule.id in matched_ids:
            continue
        failure = first_failure(rule.when, facts, types, policy.readable)
        # The engine and the explainer read conditions alike (property-tested); should
        # they ever differ, say so rather than drop the rule from the answer.
        found.append(Miss(rule, failure or Failure("(the engine did not match)", None, ABSENT)))
    return tuple(found)
