"""The fields a rule condition can read, with their types.

This catalogue is the contract between rule authors and the service: the rule
validator checks every field path and literal against it, the compiler uses
the types to build typed engine facts, and the README's rule reference lists
it.  ``event.attributes.*`` is open: an attribute that is not listed takes the
type of the literal it is compared with.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class FieldType(enum.Enum):
    """The value type of a fact field."""

    NUMBER = "number"
    STRING = "string"
    BOOL = "boolean"
    LIST = "list of strings"


EVENT_TYPES: tuple[str, ...] = (
    "customer_message",
    "agent_note",
    "agent_limit_reached",
    "supervisor_requested",
    "complaint_opened",
    "complaint_resolved",
    "complaint_reopened",
    "case_assigned",
    "callback_promised",
    "case_closed",
    "escalation_accepted",
    "escalation_resolved",
    "agent_reply",
    "callback_done",
    # Server-generated when a timer's deadline falls due (service/timers); never posted.
    "deadline_reached",
)
# Event types only the service itself creates.
SERVER_EVENT_TYPES: frozenset[str] = frozenset({"deadline_reached"})
TIMER_STATES: tuple[str, ...] = ("warning", "breached")
CHANNELS: tuple[str, ...] = ("phone", "chat", "email", "in_person", "social_media")
LIVE_CHANNELS: frozenset[str] = frozenset({"phone", "chat", "in_person"})
TIERS: tuple[str, ...] = ("standard", "key_account")
LIMIT_KINDS: tuple[str, ...] = ("complexity", "hostility", "time")
PRIORITIES: tuple[str, ...] = ("low", "normal", "high", "urgent")
SIGNALS: tuple[str, ...] = (
    "supervisor_demand",
    "legal_threat",
    "physical_threat",
    "abuse",
    "anger",  # strong frustration without abuse: guidance only, never escalates by itself
)


@dataclass(frozen=True)
class FieldSpec:
    """One readable field: its path, type, allowed values and whether it is always present."""

    path: str
    type: FieldType
    description: str
    choices: tuple[str, ...] | None = None
    always: bool = False


def _f(
    path: str,
    type_: FieldType,
    description: str,
    choices: tuple[str, ...] | None = None,
    always: bool = False,
) -> FieldSpec:
    return FieldSpec(path, type_, description, choices, always)


N, S, L = FieldType.NUMBER, FieldType.STRING, FieldType.LIST

FIELDS: dict[str, FieldSpec] = {
    spec.path: spec
    for spec in (
        _f("event.type", S, "What happened.", EVENT_TYPES, always=True),
        _f("event.channel", S, "Where it happened.", CHANNELS),
        _f("event.language", S, "Language hint sent with the event (ISO 639-1)."),
        _f("event.text", S, "The message text (prefer `signals` over matching text)."),
        _f("event.attributes.complexity", N, "Issue complexity reported with the event, 0-10."),
        _f("event.attributes.hostility", N, "Hostility the agent reports, 0-10."),
        _f("event.attributes.topic", S, "Topic or skill the case needs, such as billing."),
        _f("event.attributes.limit", S, "Which limit an agent reports reaching.", LIMIT_KINDS),
        _f("event.attributes.handling_minutes", N, "Minutes this interaction took."),
        _f(
            "event.attributes.target",
            S,
            "The escalation target an escalation_accepted, escalation_resolved or "
            "case_assigned event is about, such as supervisor.",
        ),
        _f("case.messages", N, "Customer messages in the case so far.", always=True),
        _f("case.hostility", N, "Hostility level of the case, 0-10.", always=True),
        _f("case.abusive_messages", N, "Messages with an abuse signal.", always=True),
        _f("case.threats", N, "Legal and physical threats so far.", always=True),
        _f("case.legal_threats", N, "Legal threats so far.", always=True),
        _f("case.physical_threats", N, "Physical threats so far.", always=True),
        _f(
            "case.supervisor_requests", N, "Times the customer asked for a supervisor.", always=True
        ),
        _f("case.complexity", N, "Highest complexity reported in the case, 0-10.", always=True),
        _f(
            "case.minutes_with_customer",
            N,
            "Minutes the current agent has spent with this customer in the case.",
            always=True,
        ),
        _f("case.open_complaints", N, "Complaints open in this case.", always=True),
        _f("case.reopened_complaints", N, "Complaints reopened in this case.", always=True),
        _f("case.topic", S, "Latest topic reported for the case."),
        _f("case.status", S, "open or closed.", ("open", "closed"), always=True),
        _f(
            "case.open_escalations",
            N,
            "Escalations of the case still open (standing) before this event's decision.",
            always=True,
        ),
        _f(
            "case.escalated_to",
            L,
            "Targets of the case's open escalations, such as supervisor.",
            always=True,
        ),
        _f("customer.id", S, "Customer identifier."),
        _f("customer.tier", S, "Customer tier.", TIERS, always=True),
        _f("customer.flags", L, "Flags on the customer, such as abusive.", always=True),
        _f(
            "customer.unresolved_complaints",
            N,
            "Unresolved complaints across all the customer's cases.",
            always=True,
        ),
        _f(
            "customer.escalations_30d",
            N,
            "New escalations of the customer's cases in the last 30 days.",
            always=True,
        ),
        _f(
            "customer.threats_90d",
            N,
            "Legal and physical threats in the last 90 days, across all the customer's "
            "cases, this event included.",
            always=True,
        ),
        _f(
            "customer.legal_threats_90d",
            N,
            "Legal threats in the last 90 days across the customer's cases, this event included.",
            always=True,
        ),
        _f(
            "customer.physical_threats_90d",
            N,
            "Physical threats in the last 90 days across the customer's cases, this event "
            "included.",
            always=True,
        ),
        _f("agent.id", S, "Handling agent identifier."),
        _f(
            "agent.limits.max_complexity",
            N,
            "The agent's complexity limit.",
            always=True,
        ),
        _f("agent.limits.max_hostility", N, "The agent's hostility limit.", always=True),
        _f(
            "agent.limits.max_minutes",
            N,
            "The agent's limit of minutes with one customer.",
            always=True,
        ),
        _f("agent.skills", L, "The agent's skills, such as billing.", always=True),
        _f("signals", L, "Text signals detected in this event's text.", SIGNALS, always=True),
        _f("timer.id", S, "With deadline_reached: the timer whose deadline fell due."),
        _f(
            "timer.state",
            S,
            "With deadline_reached: warning (a warn_at point) or breached (the target).",
            TIMER_STATES,
        ),
    )
}

ATTRIBUTE_PREFIX = "event.attributes."
ROOTS: tuple[str, ...] = ("event", "case", "customer", "agent", "signals", "timer")


def lookup(path: str) -> FieldSpec | None:
    """Return the spec of a catalogued field, or None."""
    return FIELDS.get(path)


def is_open_attribute(path: str) -> bool:
    """Tell whether a path names an uncatalogued event attribute (any scalar type)."""
    name = path[len(ATTRIBUTE_PREFIX) :]
    return (
        path.startswith(ATTRIBUTE_PREFIX)
        and path not in FIELDS
        and bool(name)
        and name.replace("_", "a").isalnum()
        and name.isascii()
    )


def looks_like_field(value: object) -> bool:
    """Tell whether a string on the right-hand side is meant as a field reference."""
    return isinstance(value, str) and (
        value in FIELDS or any(value.startswith(root + ".") for root in ROOTS[:4])
    )
