"""Find which event attribute values a rule set reads as plain data: numbers and enumerations.

Everything else an event's attributes hold may be text a customer wrote, and
is masked wherever masking applies (service/masking.py).
"""

from __future__ import annotations

from service.engine import catalog
from service.engine.catalog import FieldType
from service.engine.compiler import field_types, iter_predicates
from service.engine.model import FieldRef, RuleSet
from service.masking import ATTRIBUTE_PREFIX, Readable

EQUALITY = frozenset({"eq", "ne", "in", "not_in"})


def readable_of(ruleset: RuleSet) -> Readable:
    """Return the attribute values the catalogue and the rule set read as numbers or choices."""
    numbers: set[str] = set()
    booleans: set[str] = set()
    choices: dict[str, set[str]] = {}
    types: dict[str, FieldType | None] = {
        path: spec.type
        for path, spec in catalog.FIELDS.items()
        if path.startswith(ATTRIBUTE_PREFIX)
    }
    types.update(field_types(ruleset))
    for path, spec in catalog.FIELDS.items():
        if path.startswith(ATTRIBUTE_PREFIX) and spec.choices:
            choices.setdefault(path.removeprefix(ATTRIBUTE_PREFIX), set()).update(spec.choices)
    # timer.state reads a deadline_reached event's attributes.timer_state (service/decide.py).
    choices.setdefault("timer_state", set()).update(catalog.TIMER_STATES)
    for path, type_ in types.items():
        name = path.removeprefix(ATTRIBUTE_PREFIX)
        if not path.startswith(ATTRIBUTE_PREFIX):
            continue
        if type_ is FieldType.NUMBER:
            numbers.add(name)
        elif type_ is FieldType.BOOL:
            booleans.add(name)
    conditions = [rule.when for rule in ruleset.rules]
    conditions += [timer.when for timer in ruleset.timers if timer.when is not None]
    for cond in conditions:
        for pred in iter_predicates(cond):
            if not pred.field.startswith(ATTRIBUTE_PREFIX) or pred.op not in EQUALITY:
                continue
            if isinstance(pred.value, FieldRef):
                continue
            literals = pred.value if isinstance(pred.value, tuple) else (pred.value,)
            strings = {v for v in literals if isinstance(v, str)}
            if strings:
                choices.setdefault(pred.field.removeprefix(ATTRIBUTE_PREFIX), set()).update(strings)
    return Readable(
        numbers=frozenset(numbers),
        booleans=frozenset(booleans),
        choices={name: frozenset(values) for name, values in choices.items()},
    )


# What the field catalogue alone reads as plain data: for explanations made without a rule set.
CATALOGUE = readable_of(RuleSet(rules=(), revision=""))
