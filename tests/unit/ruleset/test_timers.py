"""Timers in rule files: loaded into the rule set, every problem reported in one pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.engine.model import Predicate
from service.ruleset import loader
from service.ruleset.bundle import Bundle
from service.ruleset.issues import InvalidFiles, Issue
from tests.factories import rules_dir

RULE = """
rules:
  - id: overdue
    title: Overdue
    description: A timer breached.
    when: {timer.state: breached}
    then: {priority: high}
"""


def problems(tmp_path: Path, text: str) -> list[Issue]:
    root = rules_dir(tmp_path, {"rules.yaml": RULE, "timers.yaml": text}, lexicons=False)
    with pytest.raises(InvalidFiles) as info:
        loader.load(root)
    return info.value.issues


def test_timers_load_into_the_rule_set_with_their_source(tmp_path: Path) -> None:
    root = rules_dir(
        tmp_path,
        {
            "rules.yaml": RULE,
            "timers.yaml": """
                timers:
                  - id: written-first-response
                    when: {event.channel: {in: [email, social_media]}}
                    start: customer_message
                    stop: [agent_reply, case_closed]
                    target: 24h
                    warn_at: [75%, 50%]
                  - id: promised-callback
                    start: callback_promised
                    target: event.attributes.callback_at
                    grace: 10m
                    stop: callback_done
            """,
        },
        lexicons=False,
    )

    timers = loader.load(root).ruleset.timers

    first, second = timers
    assert first.id == "written-first-response"
    assert first.start == ("customer_message",)
    assert first.stop == ("agent_reply", "case_closed")
    assert (first.target_minutes, first.target_attribute) == (24 * 60, None)
    assert first.warn_at == (50, 75)
    assert isinstance(first.when, Predicate)
    assert first.when.value == ("email", "social_media")
    assert (first.source.file, first.source.line) == ("rules/timers.yaml", 2)
    assert (second.target_minutes, second.target_attribute) == (None, "callback_at")
    assert second.grace_minutes == 10
    assert second.stop == ("callback_done",)
    assert second.when is None


def test_timers_change_the_revision(tmp_path: Path) -> None:
    timer = "timers:\n  - {id: t, start: customer_message, stop: case_closed, target: %s}\n"
    one = rules_dir(tmp_path / "a", {"rules.yaml": RULE, "t.yaml": timer % "24h"}, lexicons=False)
    two = rules_dir(tmp_path / "b", {"rules.yaml": RULE, "t.yaml": timer % "25h"}, lexicons=False)

    assert Bundle.from_directory(one).revision != Bundle.from_directory(two).revision


def test_every_problem_of_every_timer_is_reported_with_line_and_hint(tmp_path: Path) -> None:
    issues = problems(
        tmp_path,
        """
        timers:
          - id: typo
            start: customer_mesage
            stop: [case_closed]
            target: 24 hours please
          - id: nested
            when: {event.chanel: email}
            start: callback_promised
            stop: [callback_promised]
            target: {business: 8h}
            warn_at: [150%]
          - id: typo
            start: deadline_reached
            target: event.attributes.callback-at
        """,
    )
    # file:line: place: message (hint) -- columns are checked elsewhere
    rendered = [f"{i.file}:{i.line}: {i.where}: {i.message} ({i.hint})" for i in issues]

    def one(fragment: str) -> str:
        found = [text for text in rendered if fragment in text]
        assert len(found) == 1, (fragment, rendered)
        return found[0]

    assert one("customer_mesage").startswith("rules/timers.yaml:3: timer typo, start:")
    assert 'did you mean "customer_message"?' in one("customer_mesage")
    assert one("target expects a duration").startswith("rules/timers.yaml:5:")
    assert one("a business-time target is").startswith(
        "rules/timers.yaml:10: timer nested, target:"
    )
    assert one("150%").startswith("rules/timers.yaml:11:")
    assert one("both starts and stops").startswith("rules/timers.yaml:9:")
    assert 'did you mean "event.channel"?' in one("event.chanel")
    assert one("timer's own event").startswith("rules/timers.yaml:13: timer typo, start:")
    assert one('"stop" is missing').startswith("rules/timers.yaml:12: timer typo:")
    assert one("read from an event attribute").startswith("rules/timers.yaml:14:")


def test_a_timer_id_used_twice_names_the_first_place(tmp_path: Path) -> None:
    issues = problems(
        tmp_path,
        """
        timers:
          - {id: same, start: customer_message, stop: case_closed, target: 1h}
          - {id: same, start: agent_reply, stop: case_closed, target: 2h}
        """,
    )

    assert [(i.line, i.where, i.message) for i in issues] == [
        (3, "timer same, id", "the id is already used at rules/timers.yaml:2")
    ]


def test_a_timer_condition_may_not_read_the_timer_fields(tmp_path: Path) -> None:
    issues = problems(
        tmp_path,
        """
        timers:
          - {id: t, when: {timer.id: t}, start: customer_message, stop: case_closed, target: 1h}
        """,
    )

    assert [i.message for i in issues] == ["timer.id is read by rules, not by timers"]


def test_the_bundled_rules_declare_the_documented_timers() -> None:
    timers = loader.load(Path(__file__).resolve().parents[3] / "rules").ruleset.timers

    assert {t.id for t in timers} == {
        "written-first-response",
        "promised-callback",
        "case-inactive",
    }


DEFAULTS = """
agent_limits: {max_complexity: 3, max_hostility: 3, max_minutes: 45}
calendars:
  support-eu:
    time_zone: Europe/Berlin
    hours: {mon: "09:00-17:00", tue: "09:00-17:00", fri: "09:00-13:30"}
    holidays: {country: DE, subdivision: BE}
"""
BUSINESS_TIMER = """
timers:
  - id: written-first-response
    start: customer_message
    stop: agent_reply
    target: {business: 8h, calendar: support-eu}
"""


def test_business_targets_name_a_calendar_of_the_defaults(tmp_path: Path) -> None:
    root = rules_dir(
        tmp_path,
        {"rules.yaml": RULE, "timers.yaml": BUSINESS_TIMER, "defaults.yaml": DEFAULTS},
        lexicons=False,
    )

    loaded = loader.load(root).ruleset

    (calendar,) = loaded.defaults.calendars
    assert calendar.id == "support-eu"
    assert calendar.hours == ((540, 1020), (540, 1020), None, None, (540, 810), None, None)
    assert (calendar.country, calendar.subdivision) == ("DE", "BE")
    (timer,) = loaded.timers
    assert (timer.business_minutes, timer.calendar) == (480, "support-eu")


def test_calendar_problems_are_reported_together(tmp_path: Path) -> None:
    broken = """
        agent_limits: {max_complexity: 3, max_hostility: 3, max_minutes: 45}
        calendars:
          support-eu:
            time_zone: Europe/Berlinn
            hours: {mon: "09:00-17:00", tues: "09:00-17:00", wed: "17:00-09:00"}
            holidays: {country: DX}
    """
    root = rules_dir(
        tmp_path,
        {"rules.yaml": RULE, "timers.yaml": BUSINESS_TIMER, "defaults.yaml": broken},
        lexicons=False,
    )

    with pytest.raises(InvalidFiles) as info:
        loader.load(root)

    messages = [f"{i.where}: {i.message}; {i.hint}" for i in info.value.issues]
    assert any('hours.tues: unknown weekday "tues"; did you mean "tue"?' in m for m in messages)
    assert any("hours.wed: working hours open before they close" in m for m in messages)
    assert any('holidays.country: unknown country "DX"' in m for m in messages)
    assert any('unknown calendar "support-eu"' in m for m in messages), messages
