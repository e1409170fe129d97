"""The wire form of decisions, as the decision schemas dump it, written directly.

DecisionV1Schema and ExplainedDecisionV1Schema (schemas/api.py) stay the
contract and the OpenAPI document; every answer of the hot endpoints is
written here, where marshmallow's dump cost several times as much (bench/edge.py).
tests/unit/api/test_decision_wire.py compares the two on decisions of every shape.
"""

from __future__ import annotations

from typing import Any

from service.decide import Decision
from service.store.codec import StoredDecision


def _text(value: Any) -> str | None:
    # fields.String's dump: None stays None, anything else becomes its text.
    return None if value is None else str(value)


def _evidence(item: Any) -> dict[str, Any]:
    return {
        "name": _text(item.name),
        "language": _text(item.language),
        "evidence": item.evidence,
        "entry": _text(item.entry),
        "source": _text(item.source),
        "span": [item.start, item.end],
    }


def decision_wire(decision: Decision | StoredDecision) -> dict[str, Any]:
    """Return what DecisionV1Schema dumps, without marshmallow."""
    evaluated_at = decision.evaluated_at
    duration = decision.duration_ms
    wire: dict[str, Any] = {
        "decision_id": _text(decision.decision_id),
        "case_id": _text(decision.case_id),
        "event_id": _text(decision.event_id),
        "outcome": _text(decision.outcome),
        "escalations": [
            {
                "to": _text(e.to),
                "mode": _text(e.mode),
                "rule": _text(e.rule),
                "status": _text(e.status),
            }
            for e in decision.escalations
        ],
        "route_to": _text(decision.route_to),
        "priority": _text(decision.priority),
        "actions": [{str(k): _text(v) for k, v in action.items()} for action in decision.actions],
        "guidance": [_text(line) for line in decision.guidance],
        "matched_rules": [
            {
                "id": m.rule.id,
                "title": m.rule.title,
                "priority": m.rule.priority,
                "safety": m.rule.safety,
                "why": _text(m.why),
            }
            for m in decision.matched
        ],
        "signals": [
            {**_evidence(s), "edits": [_text(edit) for edit in s.edits]} for s in decision.signals
        ],
        "suppressed": [
            {
                "to": _text(s.to),
                "rule": _text(s.rule),
                "until": None if s.until is None else s.until.isoformat(),
            }
            for s in decision.suppressed
        ],
        "rules_revision": _text(decision.rules_revision),
        "evaluated_at": None if evaluated_at is None else evaluated_at.isoformat(),
        "duration_ms": None if duration is None else float(duration),
        "duplicate": decision.duplicate,
        "trigger": _text(decision.trigger),
        "timer": None if decision.timer is None else dict(decision.timer),
    }
    return wire


def explained_wire(decision: Decision) -> dict[str, Any]:
    """Return what ExplainedDecisionV1Schema dumps, without marshmallow."""
    wire = decision_wire(decision)
    wire["not_matched"] = [
        {
            "id": miss.rule.id,
            "title": miss.rule.title,
            "failed": {
                "condition": _text(miss.failed.condition),
                "field": _text(miss.failed.field),
                "observed": miss.failed.observed,
            },
        }
        for miss in decision.not_matched
    ]
    wire["cancelled_signals"] = [
        {**_evidence(c), "by": _text(c.by), "cue_source": _text(c.cue_source)}
        for c in decision.cancelled
    ]
    return wire
