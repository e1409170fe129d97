"""When a started timer falls due: its warnings and its breach, from the start event."""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

import holidays

from service.engine.model import Calendar, Scalar, Timer

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
        if parsed.tzinfo is None:
            return None
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # not a time, or one past year 1 or 9999 in UTC
        return None


# A target further than this from the start is no promise a timer can keep; it is
# treated like a missing time (and keeps every due time far inside what dates hold).
MAX_TARGET_DISTANCE = timedelta(days=366)


# A business target is found within this many days, or the calendar has (almost) no working time.
MAX_BUSINESS_DAYS = 3 * 366


@lru_cache(maxsize=64)
def _holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    found = holidays.country_holidays(country, subdiv=subdivision, years=year)
    return frozenset(found.keys())


def is_day_off(calendar: Calendar, day: date) -> bool:
    """Tell whether ``day`` has no working hours: a weekday off or a public holiday."""
    if calendar.hours[day.weekday()] is None:
        return True
    if calendar.country is None:
        return False
    return day in _holidays(calendar.country, calendar.subdivision, day.year)


def add_business_time(calendar: Calendar, start: datetime, minutes: float) -> datetime:
    """Return the moment ``minutes`` of working time after ``start``, in UTC.

    Working time is each weekday's hours in the calendar's time zone, public
    holidays excepted; time outside it does not count, so 8 hours from Friday
    16:00 with 09:00-17:00 hours end on Monday 16:00.
    """
    zone = zoneinfo.ZoneInfo(calendar.time_zone)
    local = start.astimezone(zone)
    remaining = timedelta(minutes=minutes)
    day = local.date()
    for _ in range(MAX_BUSINESS_DAYS):
        hours = calendar.hours[day.weekday()]
        if hours is not None and not is_day_off(calendar, day):
            midnight = datetime.combine(day, time(0), tzinfo=zone)
            opens = midnight + timedelta(minutes=hours[0])
            closes = midnight + timedelta(minutes=hours[1])
            begin = max(opens, local)
            if begin < closes:
                if remaining <= closes - begin:
                    return (begin + remaining).astimezone(UTC)
                remaining -= closes - begin
        day += timedelta(days=1)
    raise ValueError(f"calendar {calendar.id} has no working time within {MAX_BUSINESS_DAYS} days")


def target_of(
    timer: Timer,
    started_at: datetime,
    attributes: Mapping[str, Scalar],
    calendars: Mapping[str, Calendar] | None = None,
) -> datetime | None:
    """Return the timer's target time, or None when the start event carries no usable time."""
    if timer.target_minutes is not None:
        return started_at + timedelta(minutes=timer.target_minutes)
    if timer.business_minutes is not None:
        assert timer.calendar is not None
        assert calendars is not None
        return add_business_time(calendars[timer.calendar], started_at, timer.business_minutes)
    assert timer.target_attribute is not None
    return parse_time(attributes.get(timer.target_attribute))


def due_times(
    timer: Timer,
    started_at: datetime,
    attributes: Mapping[str, Scalar],
    calendars: Mapping[str, Calendar] | None = None,
) -> tuple[Due, ...] | None:
    """Return the warnings and the breach of a timer started at ``started_at``, in time order.

    Warnings fall at their percentage of the way from the start to the target
    (a target already past puts them at the start) -- of working time for a
    business-time target; the breach falls ``grace`` (calendar time) after the
    target.  None when the target is a time the event does not carry.
    """
    target = target_of(timer, started_at, attributes, calendars)
    if target is None or abs(target - started_at) > MAX_TARGET_DISTANCE:
        return None
    if timer.business_minutes is not None:
        assert timer.calendar is not None
        assert calendars is not None
        calendar = calendars[timer.calendar]
        warnings = tuple(
            Due(
                WARNING,
                add_business_time(calendar, started_at, timer.business_minutes * percent / 100),
                percent,
            )
            for percent in timer.warn_at
        )
        return (*warnings, Due(BREACH, target + timedelta(minutes=timer.grace_minutes)))
    span = max(target - started_at, timedelta(0))
    warnings = tuple(
        Due(WARNING, started_at + span * percent / 100, percent) for percent in timer.warn_at
    )
    breach = Due(BREACH, target + timedelta(minutes=timer.grace_minutes))
    return (*warnings, breach)
