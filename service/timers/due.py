"""When a started timer falls due: its warnings and its breach, from the start event."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from service.engine.model import Scalar, Timer

WARNING, BREACH = "warning", "breach"


@dataclass(frozen=True)
class Due:
    """One moment a timer fires: a warning at ``percent`` of the way, or the breach."""

    kind: str
    at: datetime
    percent: int | None = None


def parse_time(value: object) -> datetime | None:
    """Return an ISO 8601 time with a time zone in UTC, or None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.astimezone(UTC)


def target_of(
    timer: Timer, started_at: datetime, attributes: Mapping[str, Scalar]
) -> datetime | None:
    """Return the timer's target time, or None when the start event carries no usable time."""
    if timer.target_minutes is not None:
        return started_at + timedelta(minutes=timer.target_minutes)
    assert timer.target_attribute is not None
    return parse_time(attributes.get(timer.target_attribute))


def due_times(
    timer: Timer, started_at: datetime, attributes: Mapping[str, Scalar]
) -> tuple[Due, ...] | None:
    """Return the warnings and the breach of a timer started at ``started_at``, in time order.

    Warnings fall at their percentage of the way from the start to the target
    (a target already past puts them at the start); the breach falls ``grace``
    after the target.  None when the target is a time the event does not carry.
    """
    target = target_of(timer, started_at, attributes)
    if target is None:
        return None
    span = max(target - started_at, timedelta(0))
    warnings = tuple(
        Due(WARNING, started_at + span * percent / 100, percent) for percent in timer.warn_at
    )
    breach = Due(BREACH, target + timedelta(minutes=timer.grace_minutes))
    return (*warnings, breach)
