"""When a started timer falls due: durations, times the event carries, grace, warnings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.engine.model import Timer
from service.timers.due import BREACH, WARNING, Due, due_times, parse_time

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def timer(**values: object) -> Timer:
    fields: dict[str, object] = {
        "id": "t",
        "start": ("customer_message",),
        "stop": ("case_closed",),
    }
    fields.update(values)
    return Timer(**fields)  # type: ignore[arg-type]


def test_a_duration_counts_from_the_start_event_with_warnings_on_the_way() -> None:
    dues = due_times(timer(target_minutes=24 * 60, warn_at=(50, 75)), START, {})

    assert dues == (
        Due(WARNING, START + timedelta(hours=12), 50),
        Due(WARNING, START + timedelta(hours=18), 75),
        Due(BREACH, START + timedelta(hours=24)),
    )


def test_grace_delays_the_breach_but_not_the_warnings() -> None:
    dues = due_times(timer(target_minutes=60, grace_minutes=10, warn_at=(100,)), START, {})

    assert dues == (
        Due(WARNING, START + timedelta(hours=1), 100),
        Due(BREACH, START + timedelta(minutes=70)),
    )


def test_a_time_the_event_carries_is_the_target_in_any_time_zone() -> None:
    promised = {"callback_at": "2026-11-30T11:30:00+01:00"}
    dues = due_times(
        timer(target_attribute="callback_at", grace_minutes=10, warn_at=(50, 100)), START, promised
    )

    target = datetime(2026, 11, 30, 10, 30, tzinfo=UTC)
    assert dues == (
        Due(WARNING, START + timedelta(minutes=45), 50),
        Due(WARNING, target, 100),
        Due(BREACH, target + timedelta(minutes=10)),
    )


def test_a_target_already_past_is_due_at_once() -> None:
    dues = due_times(
        timer(target_attribute="callback_at", warn_at=(75,)),
        START,
        {"callback_at": "2026-11-30T08:00:00Z"},
    )

    assert dues == (Due(WARNING, START, 75), Due(BREACH, datetime(2026, 11, 30, 8, tzinfo=UTC)))


def test_no_usable_time_starts_nothing() -> None:
    promised = timer(target_attribute="callback_at")

    assert due_times(promised, START, {}) is None
    assert due_times(promised, START, {"callback_at": "tomorrow at ten"}) is None
    assert due_times(promised, START, {"callback_at": "2026-11-30T10:00:00"}) is None  # no zone
    assert due_times(promised, START, {"callback_at": 1764500000}) is None


def test_parse_time_returns_utc() -> None:
    assert parse_time("2026-11-30T10:00:00Z") == datetime(2026, 11, 30, 10, tzinfo=UTC)
    assert parse_time("2026-11-30T10:00:00-05:00") == datetime(2026, 11, 30, 15, tzinfo=UTC)
