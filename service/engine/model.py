"""The rule model: conditions, rules and rule sets as immutable dataclasses.

Schemas build these from rule files; the compiler, the explainer and the merge
policy read them.  Nothing here knows about YAML, HTTP or durable-rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

Scalar = str | int | float | bool
Path = tuple[str | int, ...]

OPERATORS: tuple[str, ...] = (
    "eq",
    "ne",
    "lt",
    "lte",
    "gt",
    "gte",
    "in",
    "not_in",
    "contains",
    "exists",
)
COMBINATORS: tuple[str, ...] = ("all", "any", "not")


@dataclass(frozen=True)
class FieldRef:
    """A right-hand side that reads another field, such as agent.limits.max_hostility."""

    path: str


Operand = Scalar | FieldRef | tuple[Scalar, ...]


@dataclass(frozen=True)
class Predicate:
    """One comparison: ``field op value``; ``where`` is its location in the rule file."""

    field: str
    op: str
    value: Operand
    where: Path = ()


@dataclass(frozen=True)
class AllOf:
    """True when every child is true (true when empty)."""

    children: tuple[Condition, ...]
    where: Path = ()


@dataclass(frozen=True)
class AnyOf:
    """True when at least one child is true (false when empty)."""

    children: tuple[Condition, ...]
    where: Path = ()


@dataclass(frozen=True)
class NotOf:
    """True when the child is false."""

    child: Condition
    where: Path = ()


Condition = Predicate | AllOf | AnyOf | NotOf


@dataclass(frozen=True)
class Escalation:
    """Hand the case to ``to`` (mode handover) or inform ``to`` while the agent keeps it."""

    to: str
    mode: str = "handover"


@dataclass(frozen=True)
class Action:
    """A side effect the ticketing system or this service carries out."""

    type: str
    params: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, str]:
        """Return the action as a flat mapping, type first."""
        return {"type": self.type, **dict(self.params)}


@dataclass(frozen=True)
class Then:
    """What a rule decides when it matches."""

    escalate: tuple[Escalation, ...] = ()
    route_to: str | None = None
    priority: str | None = None
    actions: tuple[Action, ...] = ()
    guidance: tuple[str, ...] = ()
    cooldown_minutes: int | None = None


@dataclass(frozen=True)
class Source:
    """Where a definition was read from."""

    file: str
    line: int


@dataclass(frozen=True)
class Rule:
    """One rule as written by a rule author."""

    id: str
    title: str
    description: str
    priority: int
    when: Condition
    then: Then
    safety: bool = False
    source: Source = Source("<memory>", 0)


@dataclass(frozen=True)
class AgentLimits:
    """An agent's personal limits."""

    max_complexity: float
    max_hostility: float
    max_minutes: float


@dataclass(frozen=True)
class Calendar:
    """Working time for business-time timers: a time zone, hours per weekday, public holidays.

    ``hours`` holds, Monday first, each weekday's working hours as minutes after
    midnight (opening, closing), or None for a day off.  Public holidays of
    ``country`` (and ``subdivision``) are days off, from the ``holidays`` package.
    """

    id: str
    time_zone: str
    hours: tuple[tuple[int, int] | None, ...]
    country: str | None = None
    subdivision: str | None = None


@dataclass(frozen=True)
class Defaults:
    """Rule-set wide defaults: the limits of an agent without a profile, business calendars."""

    agent_limits: AgentLimits = AgentLimits(max_complexity=3, max_hostility=3, max_minutes=45)
    calendars: tuple[Calendar, ...] = ()


@dataclass(frozen=True)
class Timer:
    """A deadline a start event sets on a case and a stop event clears (service/timers).

    The target is ``target_minutes`` after the start event, or the time in the
    start event's attribute ``target_attribute``; the breach falls ``grace_minutes``
    after it, warnings at ``warn_at`` percent of the way to the target.
    """

    id: str
    start: tuple[str, ...]
    stop: tuple[str, ...]
    target_minutes: int | None = None
    target_attribute: str | None = None
    business_minutes: int | None = None  # working time in ``calendar`` instead
    calendar: str | None = None
    grace_minutes: int = 0
    warn_at: tuple[int, ...] = ()
    when: Condition | None = None
    source: Source = Source("<memory>", 0)


@dataclass(frozen=True)
class RuleSet:
    """A validated rule set: rules in file order plus the defaults and the lexicon."""

    rules: tuple[Rule, ...]
    revision: str
    defaults: Defaults = Defaults()
    files: tuple[str, ...] = ()
    timers: tuple[Timer, ...] = ()
    by_id: Mapping[str, Rule] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not self.by_id:
            object.__setattr__(self, "by_id", {rule.id: rule for rule in self.rules})
