"""Turn case and customer state into JSON columns and back."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from service.cases.model import CaseState, ComplaintRef, CustomerState, Escalated

_SCALARS = tuple(
    f.name
    for f in fields(CaseState)
    if f.name not in ("case_id", "last_event_at", "last_escalations")
)


def stamp(moment: datetime) -> str:
    """Return an ISO 8601 UTC timestamp."""
    return moment.astimezone(UTC).isoformat()


def parse_stamp(text: str) -> datetime:
    """Parse an ISO 8601 timestamp into an aware UTC datetime."""
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def aware(moment: datetime) -> datetime:
    """Return a datetime read from the database as aware UTC (SQLite drops the zone)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def case_to_json(state: CaseState) -> dict[str, Any]:
    """Serialise a case's aggregates."""
    data: dict[str, Any] = {name: getattr(state, name) for name in _SCALARS}
    data["last_event_at"] = stamp(state.last_event_at) if state.last_event_at else None
    data["last_escalations"] = {
        target: {"at": stamp(e.at), "severity": e.severity, "rule": e.rule}
        for target, e in state.last_escalations.items()
    }
    return data


def case_from_json(case_id: str, data: dict[str, Any]) -> CaseState:
    """Rebuild a case's aggregates; unknown keys are ignored, missing ones take defaults."""
    values = {name: data[name] for name in _SCALARS if name in data}
    last = data.get("last_event_at")
    escalations = {
        target: Escalated(at=parse_stamp(e["at"]), severity=int(e["severity"]), rule=str(e["rule"]))
        for target, e in (data.get("last_escalations") or {}).items()
    }
    return CaseState(
        case_id=case_id,
        last_event_at=parse_stamp(last) if last else None,
        last_escalations=escalations,
        **values,
    )


def refs_to_json(refs: tuple[ComplaintRef, ...]) -> list[dict[str, str]]:
    """Serialise complaint references."""
    return [{"case_id": r.case_id, "opened_at": stamp(r.opened_at)} for r in refs]


def refs_from_json(data: list[dict[str, str]]) -> tuple[ComplaintRef, ...]:
    """Rebuild complaint references."""
    return tuple(ComplaintRef(r["case_id"], parse_stamp(r["opened_at"])) for r in data)


def customer_from_row(row: Any, escalations_30d: int) -> CustomerState:
    """Build a customer's state from its row."""
    return CustomerState(
        id=row.customer_id,
        tier=row.tier,
        flags=tuple(row.flags),
        flag_reasons=dict(row.flag_reasons),
        unresolved_complaints=row.unresolved_complaints,
        escalations_30d=escalations_30d,
        unresolved_complaint_refs=refs_from_json(row.complaint_refs),
    )
