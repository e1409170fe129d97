"""Read and check the ``timers:`` lists of rule files, reporting every problem in one pass."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from marshmallow import ValidationError

from schemas.common import REQUIRED, flatten
from schemas.rules import TimerSchema, parse_partial
from service.engine.compiler import iter_predicates
from service.engine.model import Path, Source, Timer
from service.hints import Hinted, did_you_mean, split
from service.ruleset.issues import Issue, render_path
from service.ruleset.validate import check_predicate
from service.ruleset.yamlsrc import Located

TIMER_SCHEMA = TimerSchema()


@dataclass(frozen=True)
class ParsedTimer:
    """A timer and where it was read from."""

    timer: Timer
    file: str
    index: int
    located: Located
    check_only: bool = False  # a stand-in around the condition of a timer with other problems

    def issue(self, where: Path, message: str) -> Issue:
        """Return an issue located at ``where`` inside this timer."""
        return timer_issue(self.file, self.located, self.index, self.timer.id, where, message)


def timer_issue(
    file: str, located: Located, index: int, timer_id: str | None, where: Path, message: str
) -> Issue:
    """Return an issue naming the timer and the place in it, its hint apart."""
    subject = f"timer {timer_id or '?'}"
    if where:
        subject += f", {render_path(where)}"
    line, column = located.at(("timers", index, *where))
    text, hint = split(message)
    return Issue(file, line, text, where=subject, hint=hint, column=column)


def load_timers(name: str, located: Located, issues: list[Issue]) -> list[ParsedTimer]:
    """Return the well-formed timers of one rule file; add every problem to ``issues``."""
    data = located.data
    raw_timers = data.get("timers") if isinstance(data, dict) else None
    if not isinstance(raw_timers, list):
        return []
    parsed = []
    for index, raw in enumerate(raw_timers):
        if not isinstance(raw, dict):
            line, column = located.at(("timers", index))
            message = "each timer is a mapping with id, start, stop and target"
            issues.append(Issue(name, line, message, column=column))
            continue
        timer_id = raw["id"] if isinstance(raw.get("id"), str) else None
        try:
            timer: Timer = TIMER_SCHEMA.load(raw)
        except ValidationError as exc:
            for where, message in flatten(exc.messages):
                if message == REQUIRED and where:
                    message, where = f'"{where[-1]}" is missing', where[:-1]
                issues.append(timer_issue(name, located, index, timer_id, tuple(where), message))
            when = parse_partial(raw.get("when")) if "when" in raw else None
            if when is not None:
                # Check the condition's meaning too, so one pass reports every problem.
                stand_in = Timer(id=timer_id or "?", start=(), stop=(), when=when)
                parsed.append(ParsedTimer(stand_in, name, index, located, check_only=True))
            continue
        source = Source(name, located.at(("timers", index))[0])
        parsed.append(ParsedTimer(replace(timer, source=source), name, index, located))
    return parsed


def check_timers(
    parsed: Sequence[ParsedTimer], signals: frozenset[str], calendars: frozenset[str] = frozenset()
) -> list[Issue]:
    """Check ids are unique, calendars declared, and that ``when`` reads known fields correctly."""
    issues: list[Issue] = []
    seen: dict[str, ParsedTimer] = {}
    for item in parsed:
        first = item if item.check_only else seen.setdefault(item.timer.id, item)
        if first is not item:
            line = first.located.at(("timers", first.index))[0]
            issues.append(item.issue(("id",), f"the id is already used at {first.file}:{line}"))
        calendar = item.timer.calendar
        if calendar is not None and calendar not in calendars:
            hint = (
                did_you_mean(calendar, calendars) or "declare it under calendars: in defaults.yaml"
            )
            message = Hinted(f'unknown calendar "{calendar}"', hint)
            issues.append(item.issue(("target", "calendar"), message))
        if item.timer.when is None:
            continue
        for pred in iter_predicates(item.timer.when):
            if pred.field.startswith("timer."):
                issues.append(
                    item.issue(pred.where, f"{pred.field} is read by rules, not by timers")
                )
                continue
            for problem in check_predicate(pred, {}, signals):
                issues.append(item.issue(pred.where, problem))
    return issues
