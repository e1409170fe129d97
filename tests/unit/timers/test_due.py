"""When a started timer falls due: durations, times the event carries, grace, warnings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from service.engine.model import Calendar, Timer
from service.timers.due import BREACH, WARNING, Due, add_business_time, due_times, parse_time

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
    # Past what dates hold once in UTC, or too far off to be a promise.
    assert due_times(promised, START, {"callback_at": "9999-12-31T23:59:59-14:00"}) is None
    assert due_times(promised, START, {"callback_at": "0001-01-01T00:00:00+14:00"}) is None
    assert due_times(promised, START, {"callback_at": "9999-12-31T23:55:00Z"}) is None
    assert due_times(promised, START, {"callback_at": "2025-11-28T10:00:00Z"}) is None
    assert due_times(promised, START, {"callback_at": "2027-12-02T10:00:00Z"}) is None


def test_parse_time_returns_utc() -> None:
    assert parse_time("2026-11-30T10:00:00Z") == datetime(2026, 11, 30, 10, tzinfo=UTC)
    assert parse_time("2026-11-30T10:00:00-05:00") == datetime(2026, 11, 30, 15, tzinfo=UTC)


NINE_TO_FIVE = (540, 1020)
SUPPORT_EU = Calendar(
    id="support-eu",
    time_zone="Europe/Berlin",
    hours=(NINE_TO_FIVE,) * 5 + (None, None),
    country="DE",
    subdivision="BE",
)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)


def test_business_time_counts_working_hours_only() -> None:
    # Friday 2026-11-27, 16:00 in Berlin: one hour that day, seven on Monday.
    assert add_business_time(SUPPORT_EU, berlin(2026, 11, 27, 16), 8 * 60) == berlin(
        2026, 11, 30, 16
    )
    # Saturday night counts from Monday's opening.
    assert add_business_time(SUPPORT_EU, berlin(2026, 11, 28, 23), 60) == berlin(2026, 11, 30, 10)
    # Exactly at closing time: the rest of the day is used up.
    assert add_business_time(SUPPORT_EU, berlin(2026, 11, 30, 9), 8 * 60) == berlin(
        2026, 11, 30, 17
    )


def test_public_holidays_are_days_off() -> None:
    # Thursday 24 Dec 2026, 16:00: 25 and 26 Dec are public holidays in Germany,
    # then a weekend, so the second hour falls on Monday 28 Dec.
    assert add_business_time(SUPPORT_EU, berlin(2026, 12, 24, 16), 2 * 60) == berlin(
        2026, 12, 28, 10
    )
    without_holidays = Calendar("x", "Europe/Berlin", SUPPORT_EU.hours)
    assert add_business_time(without_holidays, berlin(2026, 12, 24, 16), 2 * 60) == berlin(
        2026, 12, 25, 10
    )


def test_business_time_keeps_wall_clock_hours_across_a_clock_change() -> None:
    # Clocks go back on Sunday 25 Oct 2026; Monday's hours are still 09:00-17:00.
    assert add_business_time(SUPPORT_EU, berlin(2026, 10, 23, 16), 2 * 60) == berlin(
        2026, 10, 26, 10
    )


def test_business_targets_put_warnings_at_their_share_of_working_time() -> None:
    written = timer(business_minutes=8 * 60, calendar="support-eu", warn_at=(50,), grace_minutes=5)

    dues = due_times(written, berlin(2026, 11, 27, 16), {}, {"support-eu": SUPPORT_EU})

    assert dues == (
        Due(WARNING, berlin(2026, 11, 30, 12), 50),
        Due(BREACH, berlin(2026, 11, 30, 16, 5)),
    )
