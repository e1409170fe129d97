"""Factories for test data: events, snapshots, rules and rule directories."""

from __future__ import annotations

import shutil
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from service.cases.model import CaseState, Escalated, Event, Snapshot
from service.engine.model import Condition, Rule, RuleSet, Then

RULES = Path(__file__).resolve().parent.parent / "rules"
WHEN = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def wire_event(**overrides: Any) -> dict[str, Any]:
    """Return an event as a ticketing system sends it."""
    event: dict[str, Any] = {
        "event_id": "evt-1",
        "type": "customer_message",
        "occurred_at": "2026-11-22T10:00:00Z",
        "channel": "chat",
        "customer": {"id": "cus-1"},
        "agent": {"id": "ag-1"},
        "text": "Hello, my order has not arrived.",
    }
    event.update(overrides)
    return event


def event(**overrides: Any) -> Event:
    """Return a domain event."""
    values: dict[str, Any] = {
        "event_id": "evt-1",
        "type": "customer_message",
        "occurred_at": WHEN,
        "channel": "chat",
        "customer_id": "cus-1",
        "agent_id": "ag-1",
    }
    values.update(overrides)
    return Event(**values)


def rule(rule_id: str, when: Condition, then: Then | None = None, **overrides: Any) -> Rule:
    """Return a rule with sensible defaults."""
    values: dict[str, Any] = {
        "id": rule_id,
        "title": rule_id,
        "description": rule_id,
        "priority": 50,
        "when": when,
        "then": then or Then(guidance=(f"guidance of {rule_id}",)),
    }
    values.update(overrides)
    return Rule(**values)


def ruleset(*rules: Rule, revision: str = "sha256:test") -> RuleSet:
    """Return a rule set of the given rules."""
    return RuleSet(rules=tuple(rules), revision=revision)


def rules_dir(tmp_path: Path, files: dict[str, str], lexicons: bool = True) -> Path:
    """Write a rules directory: the given files (dedented), plus the bundled lexicons."""
    root = tmp_path / "rules"
    root.mkdir(parents=True, exist_ok=True)
    if lexicons:
        shutil.copytree(RULES / "lexicons", root / "lexicons", dirs_exist_ok=True)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


# A rule file with a misspelled operator (line 8) and no "then" (rule at line 2).
BROKEN_RULE_FILE = """
    rules:
      - id: repeated-complaints
        title: Repeated complaints
        description: Complaints keep coming.
        when:
          all:
            - event.type: {eq: complaint_opened}
            - customer.unresolved_complaints: {gtee: 2}
"""


def snapshot() -> Snapshot:
    """Return the state of a new case."""
    return Snapshot()


def decision_situations() -> dict[str, tuple[Snapshot, str | None]]:
    """Return cases whose decisions show every part of an answer: signals, standing and held-back escalations."""
    standing = Escalated(WHEN - timedelta(minutes=5), 5, "customer-demands-supervisor")
    recent = Escalated(WHEN - timedelta(minutes=5), 3, "persistent-abuse-in-live-channel")
    return {
        "threat and demand": (
            Snapshot(case=CaseState(case_id="C-1")),
            "Get me your manager or I will sue you.",
        ),
        "standing supervisor": (
            Snapshot(case=CaseState(case_id="C-1", open_escalations={"supervisor": standing})),
            "I want to speak to your manager.",
        ),
        "held back by a cool-down": (
            Snapshot(
                case=CaseState(
                    case_id="C-1", abusive_messages=5, last_escalations={"supervisor": recent}
                )
            ),
            "You are an idiot.",
        ),
    }
