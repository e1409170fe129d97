"""Activate a rule bundle for every worker and server: validate, guard, record, point.

An activation builds the candidate, replays recent traffic with it (the
guard), and then, in one transaction, stores the bundle, moves the active
pointer and appends to the history.  Every other worker follows the pointer
(``PolicyHolder.refresh``); the worker that activated serves the candidate at
once.  A failed attempt is recorded too, so ``GET /v1/rules`` can show it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from service import metrics
from service.policy import Policy, PolicyHolder
from service.replay import replay_window
from service.ruleset.bundle import Bundle
from service.ruleset.issues import InvalidFiles, Issue
from service.store import rules as rules_store
from service.store.repository import Store

log = logging.getLogger(__name__)

# (candidate, baseline, since, limit) -> replay summary with "escalation_rate": {before, after}
Replayer = Callable[[Policy, Policy, datetime, int], Mapping[str, Any]]


@dataclass(frozen=True)
class Guard:
    """Refuse an activation that would raise the escalation rate by more than ``margin``."""

    window: timedelta = timedelta(days=7)
    max_events: int = 10_000
    # In rate units: 0.05 is five percentage points.
    margin: float = 0.05


class GuardRefused(Exception):
    """The candidate would raise the escalation rate past the guard's margin."""

    def __init__(self, summary: Mapping[str, Any], guard: Guard) -> None:
        rate = summary["escalation_rate"]
        super().__init__(
            f"the escalation rate would rise from {rate['before']:.1%} to {rate['after']:.1%} "
            f"on the last {summary['events']} events, more than the allowed "
            f"{guard.margin * 100:g} percentage points"
        )
        self.summary = dict(summary)


def replayer_for(store: Store) -> Replayer:
    """Return the guard's replay: the newest events since a time, candidate against baseline."""

    def run(candidate: Policy, baseline: Policy, since: datetime, limit: int) -> dict[str, Any]:
        report = replay_window(store, candidate, baseline, since=since, limit=limit)
        return report.as_dict()

    return run


class UnknownRevision(LookupError):
    """No bundle with that revision was ever stored."""


@dataclass(frozen=True)
class Activated:
    """The outcome of an activation."""

    policy: Policy
    previous_revision: str | None
    generation: int
    activation_id: int
    replay: Mapping[str, Any] | None
    changed: bool


def issues_as_dicts(issues: list[Issue]) -> list[dict[str, object]]:
    """Return issues as plain data, for the failure record."""
    return [issue.as_dict() for issue in issues]


def record_failure(
    holder: PolicyHolder, *, action: str, by: str, reason: str, details: Mapping[str, Any]
) -> None:
    """Keep a failed attempt as the last failure every server shows."""
    failure = {"at": holder.clock().isoformat(), "action": action, "by": by, "reason": reason}
    failure.update(details)
    with holder.store.write() as conn:
        rules_store.record_failure(conn, failure)


def candidate_policy(holder: PolicyHolder, bundle: Bundle) -> Policy:
    """Build a candidate bundle, reusing this worker's build of the same revision."""
    return holder.candidate(bundle)


def activate(
    holder: PolicyHolder,
    candidate: Policy,
    *,
    by: str,
    action: str,
    force: bool = False,
    guard: Guard | None = None,
    replayer: Replayer | None = None,
) -> Activated:
    """Make ``candidate`` the active revision everywhere; raise GuardRefused unless forced."""
    baseline = holder.current
    summary: Mapping[str, Any] | None = None
    if guard is not None and replayer is not None and candidate.revision != baseline.revision:
        since = holder.clock() - guard.window
        summary = replayer(candidate, baseline, since, guard.max_events)
        rate = summary["escalation_rate"]
        if rate["after"] - rate["before"] > guard.margin and not force:
            refused = GuardRefused(summary, guard)
            metrics.RULE_ACTIVATION_FAILURES.labels(action, "guard").inc()
            log.warning(
                "rules activation refused",
                extra={
                    "action": action,
                    "by": by,
                    "reason": "guard",
                    "revision": candidate.revision,
                },
            )
            record_failure(
                holder,
                action=action,
                by=by,
                reason=str(refused),
                details={"revision": candidate.revision, "replay": dict(summary)},
            )
            raise refused
    now = holder.clock()
    with holder.store.write() as conn:
        rules_store.save_bundle(conn, candidate.revision, candidate.bundle.as_text(), by, now)
        active = rules_store.lock_active(conn)
        previous = active.revision if active is not None else None
        generation = (active.generation if active is not None else 0) + 1
        if active is None:
            rules_store.seed(conn, candidate.revision, now)
        rules_store.set_active(conn, candidate.revision, generation, now)
        activation_id = rules_store.record_activation(
            conn,
            revision=candidate.revision,
            previous=previous,
            action=action,
            by=by,
            now=now,
            forced=force,
            replay=summary,
        )
    holder.adopt(candidate, generation)
    metrics.RULE_ACTIVATIONS.labels(action).inc()
    log.info(
        "rules activated",
        extra={
            "revision": candidate.revision,
            "previous_revision": previous,
            "action": action,
            "by": by,
            "forced": force,
        },
    )
    return Activated(
        policy=candidate,
        previous_revision=previous,
        generation=generation,
        activation_id=activation_id,
        replay=summary,
        changed=previous != candidate.revision,
    )


def stored_policy(holder: PolicyHolder, revision: str) -> Policy:
    """Return the policy of a revision stored earlier (for a rollback); raise UnknownRevision."""
    try:
        return holder.get(revision)
    except LookupError as exc:
        raise UnknownRevision(str(exc)) from exc


def failed(
    holder: PolicyHolder, exc: InvalidFiles, *, action: str, by: str
) -> None:
    """Record that an attempt failed validation, with every problem."""
    metrics.RULE_ACTIVATION_FAILURES.labels(action, "invalid").inc()
    log.warning(
        "rules activation refused",
        extra={"action": action, "by": by, "problems": len(exc.issues)},
    )
    record_failure(
        holder,
        action=action,
        by=by,
        reason=f"{len(exc.issues)} problem(s) in the rule files",
        details={"issues": issues_as_dicts(exc.issues)},
    )
