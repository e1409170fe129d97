"""Events and the state they update: the case, the customer and the agent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from service.engine.model import AgentLimits, Scalar


@dataclass(frozen=True)
class Event:
    """One thing that happened in a case, as a ticketing system reports it."""

    event_id: str
    type: str
    occurred_at: datetime
    channel: str | None = None
    customer_id: str | None = None
    customer_tier: str | None = None
    agent_id: str | None = None
    text: str | None = None
    language: str | None = None
    attributes: Mapping[str, Scalar] = field(default_factory=dict)


@dataclass(frozen=True)
class Escalated:
    """An escalation of a case to one target: when, how severe, and which rule raised it."""

    at: datetime
    severity: int
    rule: str


@dataclass(frozen=True)
class CaseState:
    """A case's aggregates, maintained event by event."""

    case_id: str | None = None
    status: str = "open"
    messages: int = 0
    hostility: int = 0
    abusive_messages: int = 0
    threats: int = 0
    legal_threats: int = 0
    physical_threats: int = 0
    supervisor_requests: int = 0
    complexity: float = 0
    minutes_with_customer: float = 0
    open_complaints: int = 0
    reopened_complaints: int = 0
    topic: str | None = None
    current_agent: str | None = None
    last_event_at: datetime | None = None
    # The last new escalation to each target, for cool-downs (kept after it closes).
    last_escalations: Mapping[str, Escalated] = field(default_factory=dict)
    # Escalations still open, by target: raised and not yet accepted, resolved or closed.
    open_escalations: Mapping[str, Escalated] = field(default_factory=dict)


@dataclass(frozen=True)
class ComplaintRef:
    """An unresolved complaint of a customer, to name it back to the agent."""

    case_id: str
    opened_at: datetime


@dataclass(frozen=True)
class ThreatMark:
    """A threat a customer made: when, which kind (legal or physical) and in which case."""

    at: datetime
    kind: str
    case_id: str | None


@dataclass(frozen=True)
class CustomerState:
    """What the service knows about a customer across all their cases."""

    id: str | None = None
    tier: str = "standard"
    flags: tuple[str, ...] = ()
    flag_reasons: Mapping[str, str] = field(default_factory=dict)
    unresolved_complaints: int = 0
    escalations_30d: int = 0
    unresolved_complaint_refs: tuple[ComplaintRef, ...] = ()
    # When the customer's cases got new escalations (the stored path keeps the last 30 days).
    escalated_at: tuple[datetime, ...] = ()
    # Threats across all the customer's cases, oldest first (the last 90 days are kept).
    threats: tuple[ThreatMark, ...] = ()


@dataclass(frozen=True)
class AgentProfile:
    """An agent's limit profile and skills; limits None means the rule set's defaults."""

    id: str | None = None
    limits: AgentLimits | None = None
    skills: tuple[str, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    """Everything an evaluation reads besides the event."""

    case: CaseState = CaseState()
    customer: CustomerState = CustomerState()
    agent: AgentProfile = AgentProfile()
