"""Check rules against the field catalogue: fields exist, values suit their types.

The schemas have already checked the shape of each rule; this pass checks
meaning, across the whole rule set at once, and reports every problem.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from service.engine import catalog
from service.engine.catalog import FieldType
from service.engine.compiler import iter_predicates, literal_type
from service.engine.model import COMBINATORS, FieldRef, Path, Predicate, Rule
from service.hints import Hinted, did_you_mean, one_of, split
from service.ruleset.issues import Issue, column_of, line_of, render_path

OPS_BY_TYPE: dict[FieldType, tuple[str, ...]] = {
    FieldType.NUMBER: ("eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "exists"),
    FieldType.STRING: ("eq", "ne", "in", "not_in", "contains", "exists"),
    FieldType.BOOL: ("eq", "ne", "exists"),
    FieldType.LIST: ("contains", "exists"),
}
TYPE_WORDS = {
    FieldType.NUMBER: "a number",
    FieldType.STRING: "text",
    FieldType.BOOL: "true or false",
    FieldType.LIST: "a list",
}
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
# Values guidance may quote that are not condition fields.
TEMPLATE_ONLY = frozenset({"customer.flag_reasons", "customer.unresolved_complaint_refs"})


@dataclass(frozen=True)
class ParsedRule:
    """A rule and where it was read from."""

    rule: Rule
    file: str
    index: int
    lines: Mapping[Path, int]
    check_only: bool = False  # a stand-in for a rule with other problems
    columns: Mapping[Path, int] = field(default_factory=dict)

    def issue(self, where: Path, message: str) -> Issue:
        """Return an issue located at ``where`` inside this rule, its hint apart."""
        path = ("rules", self.index, *where)
        text, hint = split(message)
        return Issue(
            self.file,
            line_of(self.lines, path),
            text,
            rule=self.rule.id,
            where=render_path(where),
            hint=hint,
            column=column_of(self.columns, self.lines, path),
        )


def _unknown_field(path: str) -> str:
    if path.startswith("signal.") or path in catalog.SIGNALS:
        name = path.split(".", 1)[-1]
        return Hinted(
            f'unknown field "{path}"', f"signals are tested with signals: {{contains: {name}}}"
        )
    if path.startswith(catalog.ATTRIBUTE_PREFIX):
        return f'"{path}": attribute names use letters, digits and underscores'
    hint = did_you_mean(path, [*catalog.FIELDS, *COMBINATORS])
    return Hinted(f'unknown field "{path}"', hint or "see the field reference in the README")


def _yaml_hint(value: object, expected: FieldType | None) -> str:
    if isinstance(value, bool) and expected is FieldType.STRING:
        return " (YAML reads yes, no, on and off as true or false: put the word in quotes)"
    return ""


def _type_of(path: str, attribute_types: Mapping[str, FieldType]) -> FieldType | None:
    spec = catalog.lookup(path)
    return spec.type if spec else attribute_types.get(path)


def _known(path: str) -> bool:
    return catalog.lookup(path) is not None or catalog.is_open_attribute(path)


def _check_choices(pred: Predicate, values: Iterable[object], signals: frozenset[str]) -> list[str]:
    spec = catalog.lookup(pred.field)
    if spec is None or spec.choices is None:
        return []
    choices = sorted(signals) if pred.field == "signals" else list(spec.choices)
    problems: list[str] = []
    for value in values:
        if isinstance(value, str) and value not in choices:
            hint = did_you_mean(value, choices) or one_of(choices)
            problems.append(Hinted(f'{pred.field} is never "{value}"', hint))
    return problems


def check_predicate(
    pred: Predicate, attribute_types: Mapping[str, FieldType], signals: frozenset[str]
) -> list[str]:
    """Return what is wrong with one predicate, in plain words (a guess as a Hinted message)."""
    if not _known(pred.field):
        return [_unknown_field(pred.field)]
    ftype = _type_of(pred.field, attribute_types)
    if ftype is not None and pred.op not in OPS_BY_TYPE[ftype]:
        return [
            Hinted(
                f"{pred.op} does not apply to {pred.field}, which is {TYPE_WORDS[ftype]}",
                f"use one of: {', '.join(OPS_BY_TYPE[ftype])}",
            )
        ]
    value = pred.value
    if isinstance(value, FieldRef):
        return _check_reference(pred, value, ftype, attribute_types)
    if pred.op == "exists":
        return []
    if pred.op == "contains":
        if ftype is FieldType.LIST:
            return _check_choices(pred, [value], signals)
        return []
    items = value if isinstance(value, tuple) else (value,)
    if ftype is not None:
        for item in items:
            if literal_type(item) is not ftype:
                return [
                    f"{pred.field} is {TYPE_WORDS[ftype]}, so {pred.op} needs {TYPE_WORDS[ftype]}, "
                    f"not {item!r}{_yaml_hint(item, ftype)}"
                ]
    return _check_choices(pred, items, signals)


def _check_reference(
    pred: Predicate,
    ref: FieldRef,
    ftype: FieldType | None,
    attribute_types: Mapping[str, FieldType],
) -> list[str]:
    if not _known(ref.path):
        return [_unknown_field(ref.path)]
    rtype = _type_of(ref.path, attribute_types)
    if pred.op == "contains":
        if rtype not in (FieldType.STRING, None):
            return [f"contains looks for text, but {ref.path} is {TYPE_WORDS[rtype]}"]
        return []
    if ftype is None and rtype is None:
        return [f"{pred.field} and {ref.path} are both untyped attributes; compare with a literal"]
    if rtype is FieldType.LIST:
        return [f"{ref.path} is a list; lists are tested with contains"]
    if ftype is not None and rtype is not None and ftype is not rtype:
        return [f"{pred.field} is {TYPE_WORDS[ftype]} but {ref.path} is {TYPE_WORDS[rtype]}"]
    return []


def attribute_types(
    parsed: Sequence[ParsedRule],
) -> tuple[dict[str, FieldType], list[Issue], set[int]]:
    """Infer the type of each open event attribute from its uses; report conflicting uses.

    Return the types, the issues, and the ids of the predicates in conflict.
    """
    types: dict[str, FieldType] = {}
    first_use: dict[str, str] = {}
    issues: list[Issue] = []
    conflicts: set[int] = set()
    for item in parsed:
        for pred in iter_predicates(item.rule.when):
            if not catalog.is_open_attribute(pred.field) or pred.op == "exists":
                continue
            if isinstance(pred.value, FieldRef):
                spec = catalog.lookup(pred.value.path)
                if spec is None:
                    continue
                implied = spec.type
            else:
                implied = FieldType.STRING if pred.op == "contains" else literal_type(pred.value)
            known = types.setdefault(pred.field, implied)
            first_use.setdefault(pred.field, f"rule {item.rule.id}")
            if known is not implied:
                conflicts.add(id(pred))
                issues.append(
                    item.issue(
                        pred.where,
                        f"{pred.field} is compared with {TYPE_WORDS[implied]} here but with "
                        f"{TYPE_WORDS[known]} in {first_use[pred.field]}; use one kind of value",
                    )
                )
    return types, issues, conflicts


def check_then(item: ParsedRule) -> list[Issue]:
    """Check the placeholders in guidance and action texts."""
    issues = []
    then = item.rule.then
    texts = [(("then", "guidance", i), text) for i, text in enumerate(then.guidance)]
    texts += [
        (("then", "actions", i), value)
        for i, action in enumerate(then.actions)
        for _, value in action.params
    ]
    for where, text in texts:
        for name in PLACEHOLDER.findall(text):
            if name not in catalog.FIELDS and name not in TEMPLATE_ONLY:
                hint = did_you_mean(name, [*catalog.FIELDS, *TEMPLATE_ONLY], written="{{{}}}")
                message = Hinted(
                    f'unknown placeholder "{{{name}}}"', hint or "placeholders name a field"
                )
                issues.append(item.issue(where, message))
    return issues


def check_rules(parsed: Sequence[ParsedRule], signals: frozenset[str]) -> list[Issue]:
    """Check every rule; return every issue found."""
    types, issues, conflicts = attribute_types(parsed)
    seen: dict[str, ParsedRule] = {}
    for item in parsed:
        if item.check_only:
            for pred in iter_predicates(item.rule.when):
                issues += [item.issue(pred.where, m) for m in check_predicate(pred, types, signals)]
            issues.extend(check_then(item))
            continue
        if item.rule.id in seen:
            first = seen[item.rule.id]
            line = line_of(first.lines, ("rules", first.index))
            issues.append(item.issue(("id",), f"the id is already used at {first.file}:{line}"))
        else:
            seen[item.rule.id] = item
        for pred in iter_predicates(item.rule.when):
            if id(pred) in conflicts:
                continue
            for message in check_predicate(pred, types, signals):
                issues.append(item.issue(pred.where, message))
        issues.extend(check_then(item))
    return issues
