"""Event bodies for case-event tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

_ids = itertools.count()
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def body(**fields: Any) -> dict[str, Any]:
    """Return a case event body with a fresh event_id; keyword arguments override."""
    event: dict[str, Any] = {
        "event_id": f"evt-{next(_ids)}",
        "type": "customer_message",
        "occurred_at": START.isoformat(),
        "channel": "chat",
        "customer": {"id": "cus-1"},
        "agent": {"id": "ag-1"},
    }
    event.update(fields)
    return event


def at(minutes: float) -> str:
    """Return the timestamp ``minutes`` after the start of the test day."""
    return (START + timedelta(minutes=minutes)).isoformat()
