"""What a decision changes: standing escalations, cool-downs, the customer's history and flags.

``apply_event`` (reduce.py) updates the state from the event alone; the
functions here update it from the decision made on it.  Both are pure and
both run inside ``decide.evaluate``, so the stateless dry run and the stored
path compute the same state: ``ingest`` only locks, decides and saves.

An escalation to a target is *new* when nothing is open to that target, or
when it is more severe than the one open; otherwise it is *standing* and is
not raised again (docs/escalations.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from service.cases.model import CaseState, CustomerState, Escalated, Snapshot

NEW, STANDING = "new", "standing"
# How long new escalations count in customer.escalations_30d.
ESCALATION_WINDOW = timedelta(days=30)
# Action types that announce an escalation: not sent again while it stands.
ESCALATION_ACTIONS = frozenset({"notify", "page"})


@dataclass(frozen=True)
class Raised:
    """An escalation a decision asks for, before it is found new, standing or held back."""

    to: str
    severity: int
    rule: str


@dataclass(frozen=True)
class Sorted:
    """Escalations sorted by what happens to them: by target, status new or standing."""

    status: Mapping[str, str]
    held_until: Mapping[str, datetime]  # held back by a cool-down, until when


def sort_escalations(
    case: CaseState, raised: Sequence[Raised], cooldowns: Mapping[str, int], now: datetime
) -> Sorted:
    """Tell for each escalation whether it is new, standing, or held back by a cool-down.

    A standing escalation is one already open to the target at the same or a
    higher severity.  A cool-down holds back an escalation to a target that
    was escalated to within the window, unless the new one is more severe.
    """
    status: dict[str, str] = {}
    held: dict[str, datetime] = {}
    for esc in raised:
        standing = case.open_escalations.get(esc.to)
        if standing is not None and esc.severity <= standing.severity:
            status[esc.to] = STANDING
            continue
        window = cooldowns.get(esc.to)
        last = case.last_escalations.get(esc.to)
        if (
            window
            and last is not None
            and now - last.at < timedelta(minutes=window)
            and esc.severity <= last.severity
        ):
            held[esc.to] = last.at + timedelta(minutes=window)
            continue
        status[esc.to] = NEW
    return Sorted(status, held)


def announcing(
    actions: Sequence[Mapping[str, str]],
    targets_of: Mapping[str, Sequence[str]],
    new_targets: frozenset[str],
) -> tuple[dict[str, str], ...]:
    """Drop the notifications of escalations that are not new (standing or held back).

    An action belongs to the escalations of the rule that asked for it
    (``targets_of`` maps rule ids to their targets); a rule that escalates
    nothing keeps its actions.
    """
    kept = []
    for action in actions:
        targets = targets_of.get(action.get("rule", ""), ())
        if (
            action.get("type") in ESCALATION_ACTIONS
            and targets
            and not new_targets.intersection(targets)
        ):
            continue
        kept.append(dict(action))
    return tuple(kept)


def flag_customer(
    customer: CustomerState,
    actions: Sequence[Mapping[str, str]],
    case_id: str | None,
    when: datetime,
) -> CustomerState:
    """Apply the decision's flag_customer actions to the customer, with the reason and case."""
    flags, reasons = list(customer.flags), dict(customer.flag_reasons)
    changed = False
    for action in actions:
        if action.get("type") != "flag_customer":
            continue
        changed = True
        flag = action["flag"]
        if flag not in flags:
            flags.append(flag)
        reason = action.get("reason") or "flagged by a rule"
        reasons[flag] = f"{reason} (case {case_id or 'unknown'}, {when:%Y-%m-%d})"
    if not changed:
        return customer
    return replace(customer, flags=tuple(flags), flag_reasons=reasons)


def apply_decision(
    snapshot: Snapshot,
    new: Sequence[Raised],
    actions: Sequence[Mapping[str, str]],
    when: datetime,
) -> Snapshot:
    """Return the state after a decision that raised ``new`` escalations and sent ``actions``."""
    case, customer = snapshot.case, snapshot.customer
    if new:
        opened = {esc.to: Escalated(at=when, severity=esc.severity, rule=esc.rule) for esc in new}
        case = replace(
            case,
            open_escalations={**case.open_escalations, **opened},
            last_escalations={**case.last_escalations, **opened},
        )
        horizon = when - ESCALATION_WINDOW
        customer = replace(
            customer,
            escalations_30d=customer.escalations_30d + 1,
            escalated_at=(*(t for t in customer.escalated_at if t > horizon), when),
        )
    customer = flag_customer(customer, actions, case.case_id, when)
    return replace(snapshot, case=case, customer=customer)
