"""Replay a candidate rule set against recorded traffic: which decisions would change.

Each stored event is decided again from the state recorded for it (the case,
customer and agent before the event) with the candidate, and compared with
the decision before: the recorded one, or the baseline's.  A changed decision
does not change the state later events saw: replay answers "what would each
of these decisions have been", not "how would the history have unfolded".
See docs/replay.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service import decide
from service.policy import Policy
from service.store import repository as repo
from service.store.repository import Store, StoredForReplay

EXAMPLES = 20
ESCALATE = "escalate"


@dataclass(frozen=True)
class Verdict:
    """What a person acts on in a decision: the parts replay compares."""

    outcome: str
    escalations: tuple[tuple[str, str], ...]  # (target, mode), sorted
    route_to: str | None
    priority: str
    matched: tuple[str, ...]  # rule ids, sorted

    @classmethod
    def of(cls, decision: decide.Decision) -> Verdict:
        """Return the verdict of a decision just made."""
        return cls(
            outcome=decision.outcome,
            escalations=tuple(sorted((e.to, e.mode) for e in decision.escalations)),
            route_to=decision.route_to,
            priority=decision.priority,
            matched=tuple(sorted({m.rule.id for m in decision.matched})),
        )

    @classmethod
    def stored(cls, decision: Mapping[str, Any]) -> Verdict:
        """Return the verdict of a stored decision (DecisionV1 JSON)."""
        return cls(
            outcome=decision["outcome"],
            escalations=tuple(sorted((e["to"], e["mode"]) for e in decision["escalations"])),
            route_to=decision.get("route_to"),
            priority=decision["priority"],
            matched=tuple(sorted({m["id"] for m in decision["matched_rules"]})),
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the verdict as JSON."""
        return {
            "outcome": self.outcome,
            "escalations": [{"to": to, "mode": mode} for to, mode in self.escalations],
            "route_to": self.route_to,
            "priority": self.priority,
            "matched_rules": list(self.matched),
        }


@dataclass(frozen=True)
class Change:
    """One event whose decision would change; it names the event, never its text."""

    seq: int
    case_id: str
    event_id: str
    occurred_at: datetime
    before: Verdict
    after: Verdict

    def as_dict(self) -> dict[str, Any]:
        """Return the change as JSON."""
        return {
            "case_id": self.case_id,
            "event_id": self.event_id,
            "occurred_at": self.occurred_at.isoformat(),
            "before": self.before.as_dict(),
            "after": self.after.as_dict(),
        }


@dataclass(frozen=True)
class ReplayReport:
    """What a candidate rule set changes over a run of stored events.

    ``events`` counts the events decided again; ``skipped`` those without a
    recorded state, which are in no other figure; ``from_kept_signals`` those
    of ``events`` whose text was purged, decided from the signals kept for them.
    """

    events: int
    changed: int
    skipped: int
    by_rule: Mapping[str, Mapping[str, int]]
    by_outcome: Mapping[str, int]
    escalated_before: int
    escalated_after: int
    examples: tuple[Change, ...]
    from_kept_signals: int = 0

    @property
    def escalation_rate(self) -> tuple[float, float]:
        """Return the share of events whose outcome is escalate, before and after."""
        if not self.events:
            return 0.0, 0.0
        return self.escalated_before / self.events, self.escalated_after / self.events

    def as_dict(self) -> dict[str, Any]:
        """Return the report as JSON (the shape docs/replay.md describes)."""
        before, after = self.escalation_rate
        return {
            "events": self.events,
            "changed": self.changed,
            "skipped": self.skipped,
            "from_kept_signals": self.from_kept_signals,
            "by_rule": {rule: dict(counts) for rule, counts in self.by_rule.items()},
            "by_outcome": dict(self.by_outcome),
            "escalation_rate": {"before": before, "after": after},
            "examples": [change.as_dict() for change in self.examples],
        }


def _decide(policy: Policy, stored: StoredForReplay) -> Verdict:
    assert stored.snapshot is not None
    # A purged event has no text to search: the signals found when it arrived stand in.
    evaluation = decide.evaluate(
        policy,
        stored.snapshot,
        stored.event,
        case_id=stored.case_id,
        now=stored.received_at,
        signals=stored.kept_signals,
    )
    return Verdict.of(evaluation.decision)


def replay(
    events: Iterable[StoredForReplay],
    candidate: Policy,
    baseline: Policy | None = None,
    *,
    examples: int = EXAMPLES,
) -> ReplayReport:
    """Decide every stored event again with ``candidate`` and report what changes.

    "Before" is the stored decision when ``baseline`` is None or has the
    revision the event was decided with (same rules, same state: same
    decision); otherwise the baseline decides the event again too.
    """
    decided = skipped = escalated_before = escalated_after = from_kept = 0
    fires_more: Counter[str] = Counter()
    fires_less: Counter[str] = Counter()
    by_outcome: Counter[str] = Counter()
    changes: list[Change] = []
    changed = 0
    for stored in events:
        if stored.snapshot is None:
            skipped += 1
            continue
        decided += 1
        from_kept += stored.kept_signals is not None
        after = _decide(candidate, stored)
        if baseline is None or stored.rules_revision == baseline.revision:
            before = Verdict.stored(stored.decision)
        else:
            before = _decide(baseline, stored)
        escalated_before += before.outcome == ESCALATE
        escalated_after += after.outcome == ESCALATE
        if before == after:
            continue
        changed += 1
        by_outcome[f"{before.outcome} -> {after.outcome}"] += 1
        if before.matched != after.matched:
            fires_more.update(set(after.matched) - set(before.matched))
            fires_less.update(set(before.matched) - set(after.matched))
        if len(changes) < examples:
            changes.append(
                Change(
                    stored.seq, stored.case_id, stored.event_id, stored.occurred_at, before, after
                )
            )
    by_rule = {
        rule: {"fires_more": fires_more[rule], "fires_less": fires_less[rule]}
        for rule in sorted(fires_more.keys() | fires_less.keys())
    }
    return ReplayReport(
        events=decided,
        changed=changed,
        skipped=skipped,
        by_rule=by_rule,
        by_outcome=dict(sorted(by_outcome.items())),
        escalated_before=escalated_before,
        escalated_after=escalated_after,
        examples=tuple(changes),
        from_kept_signals=from_kept,
    )


def replay_window(
    store: Store,
    candidate: Policy,
    baseline: Policy | None = None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> ReplayReport:
    """Replay the newest ``limit`` events received in [since, until) with ``candidate``."""
    with store.read() as conn:
        return replay(repo.events_for_replay(conn, since, until, limit), candidate, baseline)
