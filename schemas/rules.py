"""Schemas of the rule files under ``rules/``: rules, conditions, outcomes, defaults.

These check the shape of what a rule author wrote.  Whether a field exists and
whether a value suits its type is checked afterwards against the field
catalogue (``service.ruleset.validate``); both kinds of problem are reported
together.
"""

from __future__ import annotations

import math
import re
from typing import Any

from marshmallow import ValidationError, fields, post_load, validate, validates_schema

from schemas.common import StrictSchema, boolean, integer, number, string
from service.engine import catalog
from service.engine.model import (
    COMBINATORS,
    OPERATORS,
    Action,
    AgentLimits,
    AllOf,
    AnyOf,
    Calendar,
    Condition,
    Defaults,
    Escalation,
    FieldRef,
    NotOf,
    Path,
    Predicate,
    Rule,
    Then,
    Timer,
)
from service.hints import Hinted, closest, one_of

RULE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
QUEUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$")
ESCALATION_MODES = ("handover", "notify")
ACTION_PARAMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # type: (required parameters, optional parameters)
    "notify": (("target",), ("message",)),
    "flag_customer": (("flag",), ("reason",)),
    "ask_customer_to_stop": ((), ("message",)),
    "allow_end_conversation": ((), ("message",)),
    "tag": (("tag",), ()),
}
OPERATOR_ALIASES = {
    "=": "eq",
    "==": "eq",
    "equals": "eq",
    "is": "eq",
    "!=": "ne",
    "neq": "ne",
    "not": "ne",
    "<": "lt",
    "<=": "lte",
    "le": "lte",
    ">": "gt",
    ">=": "gte",
    "ge": "gte",
    "nin": "not_in",
    "notin": "not_in",
    "has": "contains",
    "includes": "contains",
    "exist": "exists",
}
MAX_IN_VALUES = 64
DURATION = re.compile(r"^\s*(\d+)\s*(m|min|minutes?|h|hours?|d|days?)\s*$")


def _is_scalar(value: Any) -> bool:
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return isinstance(value, str | int | float | bool)


class _Errors:
    """Collect nested error messages keyed by path, the shape marshmallow reports."""

    def __init__(self) -> None:
        self.tree: dict[Any, Any] = {}

    def add(self, path: Path, message: str) -> None:
        """Record a problem at ``path``."""
        node = self.tree
        for part in path:
            node = node.setdefault(part, {})
        node.setdefault("_schema", []).append(message)


def _operator_hint(op: str) -> Hinted:
    best = OPERATOR_ALIASES.get(op.strip().lower()) or closest(op, OPERATORS)
    hint = f'did you mean "{best}"?' if best else one_of(OPERATORS)
    return Hinted(f'unknown operator "{op}"', hint)


def _operand(op: str, value: Any, path: Path, errors: _Errors) -> Any:
    """Check an operator's right-hand side and return it in model form (or None)."""
    ref = FieldRef(value) if catalog.looks_like_field(value) else None
    if op in ("eq", "ne"):
        if value is None:
            errors.add(path, "no value given; to test that a field is absent write {exists: false}")
        elif not _is_scalar(value):
            errors.add(path, f"{op} compares with one value (text, a number, true or false)")
        else:
            return ref or value
    elif op in ("lt", "lte", "gt", "gte"):
        if ref is not None:
            return ref
        if isinstance(value, bool) or not isinstance(value, int | float) or not _is_scalar(value):
            errors.add(
                path,
                f"{op} compares with a number or a field such as agent.limits.max_hostility",
            )
        else:
            return value
    elif op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            errors.add(path, f"{op} expects a list of values, such as [chat, phone]")
        elif len(value) > MAX_IN_VALUES:
            errors.add(path, f"{op} takes at most {MAX_IN_VALUES} values")
        elif not all(_is_scalar(item) for item in value):
            errors.add(path, f"{op} expects plain values (text, numbers, true or false)")
        elif (
            len(
                {
                    type(item)
                    if not isinstance(item, int | float) or isinstance(item, bool)
                    else float
                    for item in value
                }
            )
            > 1
        ):
            errors.add(path, f"{op} expects values of one kind: all text or all numbers")
        else:
            return tuple(value)
    elif op == "contains":
        if not isinstance(value, str) or not value:
            errors.add(path, "contains expects the text or item to look for")
        else:
            return ref or value
    elif op == "exists":
        if not isinstance(value, bool):
            errors.add(path, "exists expects true or false")
        else:
            return value
    return None


def parse_condition(value: Any, path: Path, where: Path, errors: _Errors) -> Condition | None:
    """Parse one condition mapping into the model, recording every problem found."""
    if isinstance(value, list):
        errors.add(
            path, "a condition is a mapping; to require several conditions, list them under all:"
        )
        # Read the items anyway, so the fields in them are checked in the same pass.
        listed = [
            parse_condition(item, (*path, i), (*where, i), errors) for i, item in enumerate(value)
        ]
        return _all_of([c for c in listed if c is not None], where)
    if not isinstance(value, dict) or not value:
        errors.add(path, "a condition is a mapping such as event.type: {eq: complaint_opened}")
        return None
    combinators = [key for key in COMBINATORS if key in value]
    if combinators and len(value) > 1:
        errors.add(
            path,
            f'"{combinators[0]}" must stand alone in its mapping; '
            "move the other conditions inside it",
        )
        parts = [
            parse_condition({key: item}, path, where, errors)
            for key, item in value.items()
            if key in combinators
        ]
        rest = {key: item for key, item in value.items() if key not in combinators}
        if rest:
            parts.append(parse_condition(rest, path, where, errors))
        return _all_of([c for c in parts if c is not None], where)
    if combinators == ["not"]:
        child = parse_condition(value["not"], (*path, "not"), (*where, "not"), errors)
        return NotOf(child, where=where) if child is not None else None
    if combinators:
        key = combinators[0]
        items = value[key]
        if not isinstance(items, list) or not items:
            errors.add((*path, key), f"{key} expects a list of one or more conditions")
            if not isinstance(items, dict):
                return None
            items = [items]  # read a lone condition anyway, to check its fields
        children = [
            parse_condition(item, (*path, key, i), (*where, key, i), errors)
            for i, item in enumerate(items)
        ]
        # Broken children are left out, so the rest can still be checked for meaning;
        # the errors recorded make sure such a partial condition is never used.
        kept = tuple(c for c in children if c is not None)
        if not kept:
            return None
        return (AllOf if key == "all" else AnyOf)(kept, where=where)
    predicates: list[Condition] = []
    for name, spec in value.items():
        fpath, fwhere = (*path, name), (*where, name)
        found = len(predicates)
        if isinstance(spec, dict):
            if not spec:
                errors.add(fpath, Hinted("no operator given", one_of(OPERATORS)))
            for op, operand in spec.items():
                if op not in OPERATORS:
                    errors.add(fpath, _operator_hint(str(op)))
                    continue
                checked = _operand(op, operand, fpath, errors)
                if checked is not None:
                    predicates.append(Predicate(name, op, checked, where=fwhere))
        elif isinstance(spec, list):
            errors.add(fpath, "a list needs an operator: write {in: [...]}")
        elif spec is None:
            errors.add(
                fpath, "no value given; to test that a field is absent write {exists: false}"
            )
        else:
            checked = _operand("eq", spec, fpath, errors)
            if checked is not None:
                predicates.append(Predicate(name, "eq", checked, where=fwhere))
        if len(predicates) == found and isinstance(name, str):
            # A stand-in that tests only the field's name, so a misspelled field is reported
            # together with its broken operator; the errors recorded keep it from being used.
            predicates.append(Predicate(name, "exists", True, where=fwhere))
    return _all_of(predicates, where)


def _all_of(conditions: list[Condition], where: Path) -> Condition | None:
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else AllOf(tuple(conditions), where=where)


def parse_partial(value: Any) -> Condition | None:
    """Parse a condition, leaving out the broken parts (for checking meaning only)."""
    return parse_condition(value, (), ("when",), _Errors())


def _texts(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    return tuple(item for item in items if isinstance(item, str))


def partial_then(value: Any) -> Then:
    """Return the guidance and action texts of an outcome, leaving out the broken parts.

    Only for checking the placeholders of a rule that has other problems.
    """
    if not isinstance(value, dict):
        return Then()
    actions = value.get("actions")
    return Then(
        guidance=_texts(value.get("guidance")),
        actions=tuple(
            Action(
                type=str(action.get("type")),
                params=tuple((str(k), v) for k, v in action.items() if isinstance(v, str)),
            )
            for action in (actions if isinstance(actions, list) else [])
            if isinstance(action, dict)
        ),
    )


def partial_rule(raw: dict[str, Any], rule_id: str | None) -> Rule:
    """Return a stand-in rule with the readable parts of an otherwise broken rule.

    Its condition and texts are checked for meaning, so one pass reports every problem.
    """
    return Rule(
        id=rule_id or "?",
        title="",
        description="",
        priority=0,
        when=parse_partial(raw.get("when")) or AllOf(()),
        then=partial_then(raw.get("then")),
    )


class ConditionField(fields.Field[Condition]):
    """A ``when`` condition: all / any / not, or field: {operator: value} mappings."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Condition:
        errors = _Errors()
        condition = parse_condition(value, (), (attr or "when",), errors)
        if errors.tree or condition is None:
            raise ValidationError(errors.tree or "invalid condition")
        return condition


class EscalateField(fields.Field[tuple[Escalation, ...]]):
    """``escalate: supervisor``, ``{to: legal, mode: notify}``, or a list of these."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> tuple[Escalation, ...]:
        items = value if isinstance(value, list) else [value]
        if not items:
            raise ValidationError("escalate needs at least one target")
        return tuple(self._one(item) for item in items)

    @staticmethod
    def _one(item: Any) -> Escalation:
        if isinstance(item, str):
            item = {"to": item}
        if not isinstance(item, dict):
            raise ValidationError(
                "escalate expects a target such as supervisor, or {to: legal, mode: notify}"
            )
        unknown = set(item) - {"to", "mode"}
        if unknown:
            raise ValidationError(
                f'unknown field "{sorted(unknown)[0]}" in escalate; expected to and mode'
            )
        target, mode = item.get("to"), item.get("mode", "handover")
        if not isinstance(target, str) or not NAME.match(target):
            raise ValidationError(
                "escalation targets are lowercase names such as supervisor or legal"
            )
        if mode not in ESCALATION_MODES:
            raise ValidationError(f'mode must be handover or notify, not "{mode}"')
        return Escalation(to=target, mode=mode)


class TextListField(fields.Field[tuple[str, ...]]):
    """One text or a list of texts."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> tuple[str, ...]:
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(item, str) and item.strip() for item in items):
            raise ValidationError("expected a text or a list of texts")
        return tuple(item.strip() for item in items)


class DurationField(fields.Field[int]):
    """A duration in minutes: 90, "30m", "2h" or "1d"."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 525_600:
            return value
        match = DURATION.match(value) if isinstance(value, str) else None
        if not match:
            raise ValidationError('expected a duration such as "30m", "2h" or "1d"')
        amount, unit = int(match.group(1)), match.group(2)[0]
        minutes = amount * {"m": 1, "h": 60, "d": 1440}[unit]
        if not 0 < minutes <= 525_600:
            raise ValidationError("a cool-down lies between one minute and one year")
        return minutes


class ActionSchema(StrictSchema):
    """One action a rule asks for, such as notify the legal team."""

    type = string(required=True)
    target = string(validate=validate.Length(1, 100))
    flag = string(validate=validate.Regexp(NAME, error="flags are lowercase names such as abusive"))
    reason = string(validate=validate.Length(1, 500))
    message = string(validate=validate.Length(1, 500))
    tag = string(validate=validate.Regexp(NAME, error="tags are lowercase names"))

    @validates_schema(skip_on_field_errors=False)
    def _parameters(self, data: dict[str, Any], **kwargs: Any) -> None:
        kind = data.get("type")
        if not isinstance(kind, str):
            return
        if kind not in ACTION_PARAMS:
            best = closest(kind, ACTION_PARAMS)
            hint = f'did you mean "{best}"?' if best else one_of(ACTION_PARAMS)
            raise ValidationError({"type": [Hinted(f'unknown action type "{kind}"', hint)]})
        required, optional = ACTION_PARAMS[kind]
        errors: dict[str, list[str]] = {}
        for name in required:
            if name not in data:
                errors[name] = [f"{kind} needs {name}"]
        for name in data:
            if name != "type" and name not in required + optional:
                errors[name] = [f"{kind} does not take {name}"]
        if errors:
            raise ValidationError(errors)

    @post_load
    def _build(self, data: dict[str, Any], **kwargs: Any) -> Action:
        params = tuple(sorted((k, v) for k, v in data.items() if k != "type"))
        return Action(type=data["type"], params=params)


class ThenSchema(StrictSchema):
    """What a rule decides: escalation, route, priority, actions, guidance, cool-down."""

    escalate = EscalateField()
    route_to = string(
        validate=validate.Regexp(QUEUE, error="queue names use letters, digits, -, _, ., : or /")
    )
    priority = string(
        validate=validate.OneOf(
            catalog.PRIORITIES, error="priority is one of: low, normal, high, urgent"
        )
    )
    actions = fields.List(
        fields.Nested(ActionSchema), error_messages={"invalid": "expected a list of actions"}
    )
    guidance = TextListField()
    cooldown = DurationField()

    @validates_schema(skip_on_field_errors=False)
    def _not_empty(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not any(k in data for k in ("escalate", "route_to", "priority", "actions", "guidance")):
            raise ValidationError(
                "then says nothing to do; give at least one of escalate, route_to, "
                "priority, actions or guidance"
            )

    @post_load
    def _build(self, data: dict[str, Any], **kwargs: Any) -> Then:
        return Then(
            escalate=data.get("escalate", ()),
            route_to=data.get("route_to"),
            priority=data.get("priority"),
            actions=tuple(data.get("actions", ())),
            guidance=data.get("guidance", ()),
            cooldown_minutes=data.get("cooldown"),
        )


class RuleSchema(StrictSchema):
    """One rule: id, title, description, priority, safety flag, when and then."""

    id = string(
        required=True,
        validate=validate.Regexp(
            RULE_ID,
            error="rule ids use lowercase letters, digits and dashes, like repeated-complaints",
        ),
    )
    title = string(required=True, validate=validate.Length(1, 120))
    description = string(required=True, validate=validate.Length(1, 2000))
    priority = integer(
        load_default=50, validate=validate.Range(0, 1000, error="priority lies between 0 and 1000")
    )
    safety = boolean(load_default=False)
    when = ConditionField(required=True, error_messages={"required": "this field is required"})
    then = fields.Nested(
        ThenSchema, required=True, error_messages={"required": "this field is required"}
    )

    @post_load
    def _build(self, data: dict[str, Any], **kwargs: Any) -> Rule:
        return Rule(
            id=data["id"],
            title=data["title"],
            description=data["description"],
            priority=data["priority"],
            safety=data["safety"],
            when=data["when"],
            then=data["then"],
        )


class RuleFileSchema(StrictSchema):
    """A rule file: a list of rules under ``rules:``, timers under ``timers:``, or both."""

    rules = fields.List(
        fields.Raw(),
        validate=validate.Length(min=1, error="a rule file needs at least one rule"),
        error_messages={"invalid": "rules: expects a list of rules"},
    )
    timers = fields.List(
        fields.Raw(),
        validate=validate.Length(min=1, error="timers: needs at least one timer"),
        error_messages={"invalid": "timers: expects a list of timers"},
    )

    @validates_schema(skip_on_field_errors=False)
    def _something(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "rules" not in data and "timers" not in data:
            raise ValidationError({"rules": ["this field is required"]})


# -- timers -----------------------------------------------------------------

TIMER_DURATION = re.compile(r"^\s*(\d+)\s*(m|min|minutes?|h|hours?|d|days?)\s*$")
PERCENT = re.compile(r"^\s*(\d{1,3})\s*%\s*$")
MAX_TIMER_MINUTES = 366 * 1440
MAX_WARNINGS = 5
ATTRIBUTE_TIME = re.compile(r"^event\.attributes\.([a-z][a-z0-9_]{0,63})$")


def timer_minutes(value: Any, what: str) -> int:
    """Return a timer duration in minutes: 90, "30m", "24h" or "7d"; raise ValidationError."""
    if isinstance(value, int) and not isinstance(value, bool):
        minutes = value
    else:
        match = TIMER_DURATION.match(value) if isinstance(value, str) else None
        if not match:
            raise ValidationError(f'{what} expects a duration such as "30m", "24h" or "7d"')
        minutes = int(match.group(1)) * {"m": 1, "h": 60, "d": 1440}[match.group(2)[0]]
    if not 0 < minutes <= MAX_TIMER_MINUTES:
        raise ValidationError(f"{what} lies between one minute and 366 days")
    return minutes


class TargetField(fields.Field[dict[str, Any]]):
    """``24h`` after the start event, ``{business: 8h, calendar: support-eu}`` of working
    time, or ``event.attributes.callback_at``: a time the start event carries."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> dict[str, Any]:
        if isinstance(value, dict):
            unknown = sorted(set(value) - {"business", "calendar"})
            if unknown or "business" not in value or "calendar" not in value:
                raise ValidationError(
                    "a business-time target is {business: 8h, calendar: <a calendar in "
                    "defaults.yaml>}"
                )
            calendar = value["calendar"]
            if not isinstance(calendar, str) or not NAME.match(calendar):
                raise ValidationError("calendar names a calendar of defaults.yaml, like support-eu")
            return {
                "business_minutes": timer_minutes(value["business"], "business"),
                "calendar": calendar,
            }
        if isinstance(value, str) and value.strip().startswith("event."):
            match = ATTRIBUTE_TIME.match(value.strip())
            if not match:
                raise ValidationError(
                    "a target time is read from an event attribute, "
                    "such as event.attributes.callback_at"
                )
            return {"target_attribute": match.group(1)}
        return {"target_minutes": timer_minutes(value, "target")}


class WarnAtField(fields.Field[tuple[int, ...]]):
    """Percentages of the way to the target, such as [50%, 75%]."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> tuple[int, ...]:
        items = value if isinstance(value, list) else [value]
        if not items or len(items) > MAX_WARNINGS:
            raise ValidationError(f"warn_at lists one to {MAX_WARNINGS} percentages, such as [75%]")
        found = []
        for item in items:
            match = PERCENT.match(item) if isinstance(item, str) else None
            if not match or not 1 <= int(match.group(1)) <= 100:
                raise ValidationError(
                    f"warn_at expects percentages from 1% to 100% of the target, such as 75%, "
                    f"not {item!r}"
                )
            found.append(int(match.group(1)))
        if len(set(found)) != len(found):
            raise ValidationError("warn_at lists a percentage twice")
        return tuple(sorted(found))


class EventTypeField(fields.Field[str]):
    """An event type a case event can have, with a suggestion for a typo."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        choices = [t for t in catalog.EVENT_TYPES if t not in catalog.SERVER_EVENT_TYPES]
        if value in catalog.SERVER_EVENT_TYPES:
            raise ValidationError(f"{value} is the timer's own event; it cannot start or stop one")
        if not isinstance(value, str) or value not in choices:
            best = closest(str(value), choices)
            hint = f'did you mean "{best}"?' if best else f"expected one of: {', '.join(choices)}"
            raise ValidationError(Hinted(f'unknown event type "{value}"', hint))
        return value


class EventTypesField(fields.Field[tuple[str, ...]]):
    """One event type or a list of them."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> tuple[str, ...]:
        items = value if isinstance(value, list) else [value]
        if not items:
            raise ValidationError("expected one or more event types, such as [case_closed]")
        one = EventTypeField()
        return tuple(str(one.deserialize(item)) for item in items)


class TimerSchema(StrictSchema):
    """One timer: the event that starts it, the events that stop it, its target."""

    id = string(
        required=True,
        validate=validate.Regexp(
            RULE_ID,
            error="timer ids use lowercase letters, digits and dashes, like promised-callback",
        ),
    )
    description = string(validate=validate.Length(1, 2000))
    when = ConditionField()
    start = EventTypesField(required=True, error_messages={"required": "this field is required"})
    stop = EventTypesField(required=True, error_messages={"required": "this field is required"})
    target = TargetField(required=True, error_messages={"required": "this field is required"})
    grace = fields.Raw()
    warn_at = WarnAtField()

    @validates_schema(skip_on_field_errors=False)
    def _consistent(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, list[str]] = {}
        if "grace" in data:
            try:
                timer_minutes(data["grace"], "grace")
            except ValidationError as exc:
                errors["grace"] = [str(m) for m in exc.messages]
        both = sorted(set(data.get("start") or ()) & set(data.get("stop") or ()))
        if both:
            errors["stop"] = [f"{both[0]} both starts and stops the timer; a start restarts it"]
        if errors:
            raise ValidationError(errors)

    @post_load
    def _build(self, data: dict[str, Any], **kwargs: Any) -> Timer:
        return Timer(
            id=data["id"],
            start=data["start"],
            stop=data["stop"],
            **data["target"],
            grace_minutes=timer_minutes(data["grace"], "grace") if "grace" in data else 0,
            warn_at=data.get("warn_at", ()),
            when=data.get("when"),
        )


class AgentLimitsSchema(StrictSchema):
    """The limits of an agent without a profile of their own."""

    max_complexity = number(required=True, validate=validate.Range(0, 10))
    max_hostility = number(required=True, validate=validate.Range(0, 10))
    max_minutes = number(required=True, validate=validate.Range(1, 1440))

    @post_load
    def _build(self, data: dict[str, Any], **kwargs: Any) -> AgentLimits:
        return AgentLimits(**data)


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class WorkingHoursField(fields.Field[tuple[tuple[int, int] | None, ...]]):
    """Working hours per weekday: ``{mon: "09:00-17:00", …}``; a day left out is a day off."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> tuple[tuple[int, int] | None, ...]:
        if not isinstance(value, dict) or not value:
            raise ValidationError(
                'hours maps weekdays to working hours, such as mon: "09:00-17:00"'
            )
        errors: dict[str, list[str]] = {}
        for day in value:
            if day not in WEEKDAYS:
                best = closest(str(day), list(WEEKDAYS))
                hint = f'did you mean "{best}"?' if best else f"use {', '.join(WEEKDAYS)}"
                errors[str(day)] = [Hinted(f'unknown weekday "{day}"', hint)]
        hours: list[tuple[int, int] | None] = []
        for day in WEEKDAYS:
            text = value.get(day)
            if text is None:
                hours.append(None)
                continue
            match = HOURS.match(text) if isinstance(text, str) else None
            if match is None:
                errors[day] = ['expected working hours such as "09:00-17:00"']
                hours.append(None)
                continue
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            start, end = h1 * 60 + m1, h2 * 60 + m2
            if m1 > 59 or m2 > 59 or not 0 <= start < end <= 24 * 60:
                errors[day] = ["working hours open before they close, between 00:00 and 24:00"]
            hours.append((start, end))
        if errors:
            raise ValidationError(errors)
        return tuple(hours)


class HolidaysSchema(StrictSchema):
    """Public holidays that are days off: a country and optionally a subdivision."""

    country = string(required=True)
    subdivision = string()

    @validates_schema(skip_on_field_errors=True)
    def _known(self, data: dict[str, Any], **kwargs: Any) -> None:
        import holidays  # loaded only by rule sets that declare calendars

        supported = holidays.list_supported_countries()
        country = data["country"]
        if country not in supported:
            best = closest(country, list(supported))
            hint = f'did you mean "{best}"?' if best else "use an ISO 3166-1 code such as DE"
            raise ValidationError({"country": [Hinted(f'unknown country "{country}"', hint)]})
        subdivision = data.get("subdivision")
        if subdivision is not None and subdivision not in supported[country]:
            choices = supported[country]
            best = closest(subdivision, list(choices))
            hint = f'did you mean "{best}"?' if best else f"expected one of: {', '.join(choices)}"
            raise ValidationError(
                {"subdivision": [Hinted(f'{country} has no subdivision "{subdivision}"', hint)]}
            )


class CalendarSchema(StrictSchema):
    """A business calendar: time zone, working hours per weekday, public holidays."""

    time_zone = string(required=True)
    hours = WorkingHoursField(required=True, error_messages={"required": "this field is required"})
    holidays = fields.Nested(HolidaysSchema)

    @validates_schema(skip_on_field_errors=True)
    def _zone(self, data: dict[str, Any], **kwargs: Any) -> None:
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(data["time_zone"])
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError(
                {
                    "time_zone": [
                        f'unknown time zone "{data["time_zone"]}"; use one such as Europe/Berlin'
                    ]
                }
            ) from exc
        if all(day is None for day in data["hours"]):
            raise ValidationError({"hours": ["a calendar needs at least one working day"]})


class DefaultsFileSchema(StrictSchema):
    """``rules/defaults.yaml``: rule-set wide defaults."""

    agent_limits = fields.Nested(AgentLimitsSchema, required=True)
    calendars = fields.Dict(
        keys=fields.String(
            validate=validate.Regexp(NAME, error="calendar names are lowercase, like support-eu")
        ),
        values=fields.Nested(CalendarSchema),
    )

    @post_load
    def _build(self, data: dict[str, Any], **kwargs: Any) -> Defaults:
        calendars = tuple(
            Calendar(
                id=name,
                time_zone=spec["time_zone"],
                hours=spec["hours"],
                country=(spec.get("holidays") or {}).get("country"),
                subdivision=(spec.get("holidays") or {}).get("subdivision"),
            )
            for name, spec in sorted((data.get("calendars") or {}).items())
        )
        return Defaults(agent_limits=data["agent_limits"], calendars=calendars)
