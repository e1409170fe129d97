"""The merge policy: how the results of every matching rule become one decision.

1. Every matching rule fires.  Rules are ranked: safety rules first, then by
   priority (highest first), then by id, so the ranking never depends on file
   order.
2. The highest-ranked rule that names a route decides ``route_to``; the
   highest-ranked rule that names a priority decides ``priority`` (default
   ``normal``).  A safety rule therefore always outranks any other rule.
3. Escalations, actions and guidance are the union over all matching rules,
   de-duplicated, in rank order.  One escalation per target: ``handover`` wins
   over ``notify``; the entry names the highest-ranked rule that asked for it.
   Nothing a safety rule asks for can be dropped by another rule.
4. ``outcome`` is ``escalate`` when there is any escalation, ``route`` when
   there is a route but no escalation, ``none`` otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from service.engine.model import Rule

PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
SEVERITY = {"low": 0, "normal": 1, "high": 2, "urgent": 3}


@dataclass(frozen=True)
class Match:
    """A rule that matched, and why."""

    rule: Rule
    why: str


@dataclass(frozen=True)
class EscalationOut:
    """One escalation in a decision."""

    to: str
    mode: str
    rule: str
    severity: int
    status: str = "new"  # or "standing": still open from an earlier decision


@dataclass(frozen=True)
class Merged:
    """The merged result of every matching rule."""

    outcome: str
    escalations: tuple[EscalationOut, ...]
    route_to: str | None
    priority: str
    actions: tuple[dict[str, str], ...]
    guidance: tuple[str, ...]
    matched: tuple[Match, ...]
    cooldowns: dict[str, int]  # escalation target -> cool-down minutes of the rule that set it


def severity_of(priority: str, mode: str) -> int:
    """Order escalations for cool-downs: by priority, then a handover above a notification."""
    return SEVERITY[priority] * 2 + (mode == "handover")


def rank_key(rule: Rule) -> tuple[bool, int, str]:
    """Order rules: safety first, then highest priority, then id."""
    return (not rule.safety, -rule.priority, rule.id)


def render(template: str, lookup: Callable[[str], str]) -> str:
    """Fill ``{field}`` placeholders in a guidance or action text."""
    return PLACEHOLDER.sub(lambda m: lookup(m.group(1)), template)


def outcome_of(escalations: Sequence[EscalationOut], route_to: str | None) -> str:
    """Return escalate, route or none."""
    if escalations:
        return "escalate"
    return "route" if route_to else "none"


def merge(matches: Sequence[Match], lookup: Callable[[str], str]) -> Merged:
    """Merge the results of every matching rule by the policy above."""
    ranked = sorted(matches, key=lambda m: rank_key(m.rule))
    route_to = next((m.rule.then.route_to for m in ranked if m.rule.then.route_to), None)
    priority = next((m.rule.then.priority for m in ranked if m.rule.then.priority), "normal")

    escalations: dict[str, EscalationOut] = {}
    cooldowns: dict[str, int] = {}
    actions: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
    guidance: dict[str, None] = {}
    for match in ranked:
        then = match.rule.then
        for esc in then.escalate:
            # The rule's own priority: another rule's must not make this escalation look
            # more severe than the same one already standing (docs/escalations.md).
            severity = severity_of(then.priority or "normal", esc.mode)
            known = escalations.get(esc.to)
            if known is None:
                escalations[esc.to] = EscalationOut(esc.to, esc.mode, match.rule.id, severity)
                if then.cooldown_minutes:
                    cooldowns[esc.to] = then.cooldown_minutes
            elif known.mode == "notify" and esc.mode == "handover":
                escalations[esc.to] = EscalationOut(
                    esc.to, "handover", known.rule, max(severity, known.severity)
                )
        for action in then.actions:
            rendered = {k: render(v, lookup) for k, v in action.as_dict().items()}
            key = tuple(sorted(rendered.items()))
            actions.setdefault(key, {**rendered, "rule": match.rule.id})
        for text in then.guidance:
            guidance.setdefault(render(text, lookup), None)

    escalated = tuple(escalations.values())
    return Merged(
        outcome=outcome_of(escalated, route_to),
        escalations=escalated,
        route_to=route_to,
        priority=priority,
        actions=tuple(actions.values()),
        guidance=tuple(guidance),
        matched=tuple(ranked),
        cooldowns=cooldowns,
    )
