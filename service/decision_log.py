"""The decision log: one JSON line per decision, after Open Policy Agent's.

Each line has the decision id, timestamp, case, event and customer ids, the
caller, the rules revision, the input (message text masked unless configured
otherwise), the signals, the matched rules with why they matched, the decision
and how long it took.  Lines are appended with a single write each, so
several worker processes can share one file.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
from collections.abc import Mapping
from typing import Any

from service.cases.model import Event
from service.decide import Decision


def masked_text(text: str | None, mask: bool) -> Any:
    """Return the text, or a stand-in that shows its length and hash but not its words."""
    if text is None or not mask:
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return {"masked": True, "length": len(text), "sha256_prefix": digest}


def event_input(event: Event, mask: bool) -> dict[str, Any]:
    """Return the event as logged."""
    return {
        "event_id": event.event_id,
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat(),
        "channel": event.channel,
        "customer": {"id": event.customer_id, "tier": event.customer_tier},
        "agent": {"id": event.agent_id},
        "text": masked_text(event.text, mask),
        "language": event.language,
        "attributes": dict(event.attributes),
    }


def record(
    decision: Decision,
    event: Event,
    *,
    caller: str | None,
    customer_id: str | None,
    dry_run: bool,
    mask: bool,
    result: Mapping[str, Any],
) -> dict[str, Any]:
    """Build one decision-log record."""
    return {
        "decision_id": decision.decision_id,
        "timestamp": decision.evaluated_at.isoformat(),
        "case_id": decision.case_id,
        "event_id": decision.event_id,
        "customer_id": customer_id,
        "caller": caller,
        "dry_run": dry_run,
        "rules_revision": decision.rules_revision,
        "input": event_input(event, mask),
        "signals": [
            {"name": s.name, "language": s.language, "evidence": s.evidence, "entry": s.entry}
            for s in decision.signals
        ],
        "matched_rules": [{"id": m.rule.id, "why": m.why} for m in decision.matched],
        "result": dict(result),
        "metrics": {"timer_eval_ms": decision.duration_ms},
    }


class DecisionLog:
    """Append decision records to a file, or to standard output for "-"."""

    def __init__(self, target: str, mask_text: bool = True) -> None:
        self.target = target
        self.mask_text = mask_text
        self._lock = threading.Lock()
        self._fd: int | None = None
        if target != "-":
            os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
            self._fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)

    def write(self, entry: Mapping[str, Any]) -> None:
        """Append one record as one line."""
        line = (json.dumps(entry, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        with self._lock:
            if self._fd is None:
                sys.stdout.buffer.write(line)
                sys.stdout.flush()
            else:
                os.write(self._fd, line)

    def close(self) -> None:
        """Close the log file."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
