"""Lint a rule set: what ``check`` rejects, plus rules that are valid but not what was meant.

Warnings, each with a plain-words message and a suggestion:

* ``never-fires``: the conditions contradict each other, so no event can match;
* ``shadowed``: a higher-ranked rule fires whenever this one does and already
  decides everything this one would, so this rule never changes a decision;
* ``repeats``: the rule escalates on a running count that never goes down and
  sets no cool-down, so it escalates again on every later event;
* ``duplicate-phrase``: two lexicon phrases of one signal and language match
  exactly the same words;
* ``untested``: no rule test shows the rule firing, or none shows a near miss.

Conditions are compared in the compiler's own normal form (``Normaliser``),
so what lint reasons about is what the engine runs.  Everything here is pure
except ``lint_directory``, which reads a rules directory.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path as FsPath

from service.engine.compiler import KeyRef, Lit, Normaliser, Term
from service.engine.merge import rank_key
from service.engine.model import (
    AllOf,
    Condition,
    FieldRef,
    NotOf,
    Path,
    Predicate,
    Rule,
    RuleSet,
    Then,
)
from service.policy import check
from service.ruleset import loader
from service.ruleset.issues import InvalidFiles, Issue, line_of, render_path
from service.ruleset.lexicons import CUES_FILE, SPELLING_FILE, load_file
from service.ruleset.yamlsrc import parse
from service.ruletests import RuleTest, load_tests
from service.signals.lexicon import Lexicon, LexiconFile

ERROR, WARNING = "error", "warning"

# Aggregates that never go down while a case lasts (see service/cases/reduce.py).
GROWING: dict[str, str] = {
    "case.messages": "counts every customer message and never goes down",
    "case.abusive_messages": "counts abusive messages and never goes down",
    "case.threats": "counts threats and never goes down",
    "case.legal_threats": "counts legal threats and never goes down",
    "case.physical_threats": "counts physical threats and never goes down",
    "case.supervisor_requests": "counts supervisor requests and never goes down",
    "case.reopened_complaints": "counts reopened complaints and never goes down",
    "case.minutes_with_customer": "only grows until another agent takes the case",
}
SYMBOL = {"eq": "=", "neq": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
_NEGATE = {"eq": "neq", "neq": "eq", "lt": "gte", "gte": "lt", "gt": "lte", "lte": "gt"}
_MIRROR = {"eq": "eq", "neq": "neq", "lt": "gt", "gt": "lt", "lte": "gte", "gte": "lte"}
PREDICATE_WORDS = {
    "eq": "=",
    "ne": "!=",
    "lt": "<",
    "lte": "<=",
    "gt": ">",
    "gte": ">=",
    "in": "in",
    "not_in": "not in",
    "contains": "contains",
}

Lines = Mapping[str, Mapping[Path, int]]  # rule file -> line of every YAML path in it


@dataclass(frozen=True)
class Finding:
    """One error or warning in one file, with a suggestion where there is one."""

    severity: str
    file: str
    line: int
    rule: str | None
    message: str
    hint: str | None = None
    kind: str = "invalid"
    where: str = ""

    @classmethod
    def from_issue(cls, issue: Issue) -> Finding:
        """Wrap a problem ``check`` reports as an error."""
        return cls(
            ERROR, issue.file, issue.line, issue.rule, issue.message, issue.hint, where=issue.where
        )

    def __str__(self) -> str:
        subject = ", ".join(
            part for part in (f"rule {self.rule}" if self.rule else "", self.where) if part
        )
        label = self.severity if self.kind == "invalid" else f"{self.severity} [{self.kind}]"
        text = f"{self.file}:{self.line}: {label}: "
        text += f"{subject}: {self.message}" if subject else self.message
        return text + (f"\n    fix: {self.hint}" if self.hint else "")

    def as_dict(self) -> dict[str, object]:
        """Return the finding as a JSON-ready mapping."""
        return {
            "severity": self.severity,
            "kind": self.kind,
            "file": self.file,
            "line": self.line,
            "rule": self.rule,
            "where": self.where,
            "message": self.message,
            "hint": self.hint,
        }


def ordered(findings: Iterable[Finding]) -> list[Finding]:
    """Sort findings by file and line, errors before warnings on one line."""
    return sorted(findings, key=lambda f: (f.file, f.line, f.severity != ERROR, f.kind, f.message))


# --- Numeric reasoning over the compiler's literals -------------------------------------------


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


Group = tuple[str, str | None]  # (value key, other value key or None for a literal)


def _constraints(term: Iterable[Lit]) -> dict[Group, list[tuple[str, float]]]:
    """Read a term's numeric comparisons as ``key op number`` or ``key - other op 0``."""
    groups: dict[Group, list[tuple[str, float]]] = defaultdict(list)
    for lit in term:
        if not lit.key.startswith("v"):
            continue
        if isinstance(lit.value, KeyRef):
            left, right, op = lit.key, lit.value.key, lit.op
            if right < left:
                left, right, op = right, left, _MIRROR[op]
            groups[(left, right)].append((op, 0.0))
        elif _is_number(lit.value):
            assert isinstance(lit.value, int | float)
            groups[(lit.key, None)].append((lit.op, float(lit.value)))
    return groups


def _feasible(constraints: Iterable[tuple[str, float]]) -> bool:
    """Tell whether some number meets every comparison."""
    low, low_strict, high, high_strict = -math.inf, False, math.inf, False
    equal: float | None = None
    unequal: set[float] = set()
    for op, value in constraints:
        if op == "eq":
            if equal is not None and equal != value:
                return False
            equal = value
        elif op == "neq":
            unequal.add(value)
        elif op in ("gt", "gte"):
            strict = op == "gt"
            if value > low or (value == low and strict):
                low, low_strict = value, strict
        else:
            strict = op == "lt"
            if value < high or (value == high and strict):
                high, high_strict = value, strict
    if equal is not None:
        above = equal > low or (equal == low and not low_strict)
        below = equal < high or (equal == high and not high_strict)
        return above and below and equal not in unequal
    if low == high:
        return not (low_strict or high_strict) and low not in unequal
    return low < high


def satisfiable(term: Term) -> bool:
    """Tell whether some fact meets a term, numeric ranges included.

    The compiler already drops terms with two values for one field or a field
    both present and absent; this adds ranges (``> 5`` and ``< 3``) and
    comparisons between two fields.
    """
    return all(_feasible(group) for group in _constraints(term).values())


def _implies(term: Term, lit: Lit) -> bool:
    """Tell whether every fact that meets ``term`` meets ``lit`` too."""
    if lit in term:
        return True
    if lit.key.startswith("p") and lit.value is True:
        # A value that compares with something is present.
        value_key = "v" + lit.key[1:]
        return any(other.key == value_key and other.op != "neq" for other in term)
    if not lit.key.startswith("v"):
        return False
    if isinstance(lit.value, KeyRef) or _is_number(lit.value):
        ((group, (negated,)),) = _constraints([Lit(lit.key, _NEGATE[lit.op], lit.value)]).items()
        return not _feasible([*_constraints(term).get(group, []), negated])
    if lit.op == "neq":
        return any(
            other.key == lit.key and other.op == "eq" and other.value != lit.value for other in term
        )
    return False


def implies(stronger: Term, weaker: Term) -> bool:
    """Tell whether every fact that meets ``stronger`` meets ``weaker``."""
    return all(_implies(stronger, lit) for lit in weaker)


# --- Where things are, and how to say them --------------------------------------------------


def _line(rule: Rule, where: Path, lines: Lines) -> int:
    """Return the line of ``where`` inside a rule, or the rule's own line."""
    file_lines = lines.get(rule.source.file)
    if not file_lines or not where:
        return rule.source.line
    index = next(
        (
            path[1]
            for path, line in file_lines.items()
            if len(path) == 2 and path[0] == "rules" and line == rule.source.line
        ),
        None,
    )
    if index is None:
        return rule.source.line
    return line_of(file_lines, ("rules", index, *where))


def _warning(
    rule: Rule, kind: str, message: str, hint: str, lines: Lines, where: Path = ()
) -> Finding:
    return Finding(
        WARNING,
        rule.source.file,
        _line(rule, where, lines),
        rule.id,
        message,
        hint,
        kind=kind,
        where=render_path(where),
    )


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, FieldRef):
        return value.path
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def say(pred: Predicate, positive: bool = True) -> str:
    """Render a predicate (or its negation) the way rule authors write it."""
    if pred.op == "exists":
        present = bool(pred.value) == positive
        return f"{pred.field} is {'present' if present else 'absent'}"
    text = f"{pred.field} {PREDICATE_WORDS[pred.op]} {_show(pred.value)}"
    return text if positive else f"not ({text})"


@dataclass(frozen=True)
class _Signed:
    """A predicate, whether it is negated, and the combinators above it."""

    pred: Predicate
    positive: bool
    # (id of the combinator, whether it conjoins its children after negations)
    chain: tuple[tuple[int, bool], ...]


def _signed(
    cond: Condition, positive: bool = True, chain: tuple[tuple[int, bool], ...] = ()
) -> Iterator[_Signed]:
    if isinstance(cond, Predicate):
        yield _Signed(cond, positive, chain)
    elif isinstance(cond, NotOf):
        yield from _signed(cond.child, not positive, chain)
    else:
        conjoins = isinstance(cond, AllOf) == positive
        for child in cond.children:
            yield from _signed(child, positive, (*chain, (id(cond), conjoins)))


def _conjoined(a: _Signed, b: _Signed) -> bool:
    """Tell whether two predicates must hold together (their nearest combinator is an and)."""
    common = None
    for x, y in zip(a.chain, b.chain, strict=False):
        if x != y:
            break
        common = x
    return common is not None and common[1]


def _as_condition(signed: _Signed) -> Condition:
    return signed.pred if signed.positive else NotOf(signed.pred)


# --- The warnings ---------------------------------------------------------------------------


@dataclass
class _Analysis:
    """The live DNF terms of every rule, over one set of engine keys."""

    normaliser: Normaliser
    terms: dict[str, list[Term]] = field(default_factory=dict)

    def live(self, cond: Condition, positive: bool = True) -> list[Term] | None:
        """Return the satisfiable terms of a condition, or None when it is too large."""
        try:
            return [t for t in self.normaliser.terms(cond, positive) if satisfiable(t)]
        except OverflowError:
            return None


def _analyse(ruleset: RuleSet) -> _Analysis:
    analysis = _Analysis(Normaliser(ruleset))
    for rule in ruleset.rules:
        terms = analysis.live(rule.when)
        if terms is not None:
            analysis.terms[rule.id] = terms
    return analysis


def never_fires(ruleset: RuleSet, lines: Lines = {}) -> list[Finding]:  # noqa: B006
    """Warn about rules whose conditions contradict each other."""
    return _never_fires(ruleset, _analyse(ruleset), lines)


def _never_fires(ruleset: RuleSet, analysis: _Analysis, lines: Lines) -> list[Finding]:
    findings = []
    for rule in ruleset.rules:
        if analysis.terms.get(rule.id, [None]):
            continue
        signed = list(_signed(rule.when))
        culprit = next(
            (
                (a, b)
                for i, a in enumerate(signed)
                for b in signed[i + 1 :]
                if _conjoined(a, b)
                and analysis.live(AllOf((_as_condition(a), _as_condition(b)))) == []
            ),
            None,
        )
        hint = (
            "fix or remove one of the conditions; if either one is enough, "
            "list them under any: instead"
        )
        if culprit is None:
            message = "this rule can never fire: no event can meet all of its conditions together"
            findings.append(_warning(rule, "never-fires", message, hint, lines, ("when",)))
            continue
        a, b = culprit
        message = (
            f"this rule can never fire: {say(a.pred, a.positive)} and "
            f"{say(b.pred, b.positive)} cannot both be true"
        )
        findings.append(_warning(rule, "never-fires", message, hint, lines, b.pred.where))
    return findings


def _covered(higher: Then, lower: Then) -> bool:
    """Tell whether the merge leaves nothing of ``lower`` once ``higher`` has been applied."""
    targets = {e.to: e.mode for e in higher.escalate}
    for esc in lower.escalate:
        if esc.to not in targets or (targets[esc.to] == "notify" and esc.mode == "handover"):
            return False
    if lower.route_to and not higher.route_to:
        return False
    if lower.priority and not higher.priority:
        return False
    return set(lower.actions) <= set(higher.actions) and set(lower.guidance) <= set(higher.guidance)


def _why_higher(higher: Rule, lower: Rule) -> str:
    if higher.safety and not lower.safety:
        return "a safety rule"
    if higher.priority != lower.priority:
        return f"priority {higher.priority} against {lower.priority}"
    return "the same priority, and its id sorts first"


def shadowed(ruleset: RuleSet, lines: Lines = {}) -> list[Finding]:  # noqa: B006
    """Warn about rules a higher-ranked rule always accompanies and already covers."""
    return _shadowed(ruleset, _analyse(ruleset), lines)


def _exact(lit: Lit) -> bool:
    """Tell whether only a term holding ``lit`` itself implies it (see ``_implies``)."""
    if lit.op != "eq" or isinstance(lit.value, KeyRef):
        return False
    if lit.key.startswith("p"):
        return lit.value is not True  # a present value implies its presence flag
    return not _is_number(lit.value)


def _required(terms: Sequence[Term]) -> frozenset[Lit]:
    """Return the exact literals every term holds."""
    common = frozenset.intersection(*(frozenset(t) for t in terms))
    return frozenset(lit for lit in common if _exact(lit))


def _shadowed(ruleset: RuleSet, analysis: _Analysis, lines: Lines) -> list[Finding]:
    findings = []
    ranked = sorted(ruleset.rules, key=rank_key)
    # A rule can only be covered by a rule whose exact literals (event.type is X)
    # it holds in every term: index rules by one of them, so that ten thousand
    # rules are compared with their few candidates, not with each other.
    required: dict[str, frozenset[Lit]] = {}
    by_literal: dict[Lit, list[int]] = defaultdict(list)
    anywhere: list[int] = []
    for position, rule in enumerate(ranked):
        terms = analysis.terms.get(rule.id)
        if not terms:
            continue
        required[rule.id] = _required(terms)
        if required[rule.id]:
            by_literal[min(required[rule.id], key=repr)].append(position)
        else:
            anywhere.append(position)
    for position, lower in enumerate(ranked):
        lower_terms = analysis.terms.get(lower.id)
        if not lower_terms:
            continue
        held = frozenset.intersection(*(frozenset(t) for t in lower_terms))
        candidates = sorted(
            {
                *(p for p in anywhere if p < position),
                *(p for lit in held for p in by_literal.get(lit, ()) if p < position),
            }
        )
        for higher in (ranked[p] for p in candidates):
            if not required[higher.id] <= held:
                continue
            higher_terms = analysis.terms.get(higher.id)
            if not higher_terms or not _covered(higher.then, lower.then):
                continue
            if all(any(implies(t, h) for h in higher_terms) for t in lower_terms):
                message = (
                    f"this rule never changes a decision: whenever it fires, rule {higher.id} "
                    f"fires too, ranks higher ({_why_higher(higher, lower)}) and already "
                    "decides everything this rule would"
                )
                hint = (
                    f"remove this rule, narrow {higher.id}'s condition, or give this rule "
                    "something to do that the other does not (a target, route, priority, "
                    "action or guidance)"
                )
                findings.append(_warning(lower, "shadowed", message, hint, lines))
                break
    return findings


def _repeating_bound(term: Term, keys: Mapping[str, str]) -> tuple[str, Lit] | None:
    """Return a growing field the term only bounds from below, with that bound."""
    upper = {
        lit.key for lit in term if lit.op in ("lt", "lte", "eq") and not isinstance(lit.value, bool)
    }
    for lit in sorted(term, key=lambda lit: (lit.key, lit.op, repr(lit.value))):
        if lit.key in keys and lit.op in ("gt", "gte") and lit.key not in upper:
            return keys[lit.key], lit
        ref = lit.value.key if isinstance(lit.value, KeyRef) else None
        if ref is not None and ref in keys and lit.op in ("lt", "lte") and ref not in upper:
            return keys[ref], lit
    return None


def repeats(ruleset: RuleSet, lines: Lines = {}) -> list[Finding]:  # noqa: B006
    """Warn about rules that escalate on a growing count without a cool-down."""
    return _repeats(ruleset, _analyse(ruleset), lines)


def _repeats(ruleset: RuleSet, analysis: _Analysis, lines: Lines) -> list[Finding]:
    keys = {slot.key: path for path, slot in analysis.normaliser.slots.items() if path in GROWING}
    findings = []
    for rule in ruleset.rules:
        then = rule.then
        if not then.escalate or then.cooldown_minutes:
            continue
        bounds = (_repeating_bound(term, keys) for term in analysis.terms.get(rule.id, []))
        found = next((hit for hit in bounds if hit), None)
        if found is None:
            continue
        path, _ = found
        pred = next(
            (s.pred for s in _signed(rule.when) if path in (s.pred.field, _show(s.pred.value))),
            None,
        )
        targets = " and ".join(e.to for e in then.escalate)
        shown = say(pred) if pred else path
        message = (
            f"{path} {GROWING[path]}: once {shown} holds it keeps holding, so this rule "
            f"escalates to {targets} again on every later event that meets its other conditions"
        )
        hint = (
            "add a cool-down under then, such as `cooldown: 1h`: the case is then not "
            f"escalated to {targets} again within that time unless it gets more severe"
        )
        where = pred.where if pred else ("then",)
        findings.append(_warning(rule, "repeats", message, hint, lines, where))
    return findings


def duplicate_phrases(lexicon: Lexicon) -> list[Finding]:
    """Warn about phrases of one signal and language that compile to the same expression."""
    first: dict[tuple[str, str, str], tuple[LexiconFile, str, int]] = {}
    findings = []
    for file in sorted(lexicon.files, key=lambda f: f.path):
        for entry in file.phrases:
            key = (file.signal, file.language, entry.source)
            if key not in first:
                first[key] = (file, entry.pattern, entry.line)
                continue
            other, pattern, line = first[key]
            place = f"line {line}" if other.path == file.path else f"{other.path}:{line}"
            findings.append(
                Finding(
                    WARNING,
                    file.path,
                    entry.line,
                    None,
                    f'phrase "{entry.pattern}" matches exactly what "{pattern}" at {place} '
                    f"matches ({file.signal}, {file.language}): case, spacing and lists make "
                    "no difference",
                    "remove one of the two phrases",
                    kind="duplicate-phrase",
                )
            )
    return findings


@dataclass(frozen=True)
class Coverage:
    """Which rules have a rule test where they fire and one where they do not (a near miss)."""

    rules: tuple[str, ...]
    missing: Mapping[str, tuple[str, ...]]  # rule id -> what it lacks, in words

    @property
    def complete(self) -> int:
        """Return how many rules have both kinds of test."""
        return len(self.rules) - len(self.missing)

    def summary(self) -> str:
        """Return the one-line coverage report."""
        text = (
            f"coverage: {self.complete} of {len(self.rules)} rules have a firing test "
            "and a near miss"
        )
        if self.missing:
            text += "; missing: " + ", ".join(
                f"{rule} ({', '.join(lacks)})" for rule, lacks in sorted(self.missing.items())
            )
        return text


def coverage(rule_ids: Iterable[str], tests: Sequence[RuleTest]) -> Coverage:
    """Return which rules lack a firing test or a near miss."""
    fires = {rule for test in tests for rule in test.expect["fires"]}
    misses = {rule for test in tests for rule in test.expect["does_not_fire"]}
    rules = tuple(sorted(rule_ids))
    missing = {}
    for rule in rules:
        lacks = tuple(
            words
            for words, known in (("no firing test", fires), ("no near miss", misses))
            if rule not in known
        )
        if lacks:
            missing[rule] = lacks
    return Coverage(rules, missing)


def untested(ruleset: RuleSet, tests: Sequence[RuleTest], lines: Lines = {}) -> list[Finding]:  # noqa: B006
    """Warn about rules without a test where they fire, or without a near miss."""
    report = coverage(ruleset.by_id, tests)
    findings = []
    for rule_id, lacks in sorted(report.missing.items()):
        rule = ruleset.by_id[rule_id]
        parts = []
        hints = []
        if "no firing test" in lacks:
            parts.append("no rule test shows this rule firing")
            hints.append(f"a test with `fires: [{rule_id}]`")
        if "no near miss" in lacks:
            parts.append("no rule test shows a near miss (a similar event where it does not fire)")
            hints.append(f"a test with `does_not_fire: [{rule_id}]`")
        findings.append(
            _warning(
                rule,
                "untested",
                "; ".join(parts),
                "add " + " and ".join(hints) + " to a file under tests/",
                lines,
            )
        )
    return findings


def lint(
    ruleset: RuleSet,
    lexicon: Lexicon,
    tests: Sequence[RuleTest] | None,
    lines: Lines = {},  # noqa: B006
) -> list[Finding]:
    """Return every warning about a valid rule set, its lexicon and its rule tests.

    ``tests`` is None when the rule tests could not be read (nothing is said
    about coverage then); ``lines`` locates conditions inside rule files.
    """
    analysis = _analyse(ruleset)
    findings = [
        *_never_fires(ruleset, analysis, lines),
        *_shadowed(ruleset, analysis, lines),
        *_repeats(ruleset, analysis, lines),
        *duplicate_phrases(lexicon),
    ]
    if tests is not None:
        findings += untested(ruleset, tests, lines)
    return ordered(findings)


# --- Reading a rules directory --------------------------------------------------------------


def _rule_lines(sources: loader.Sources) -> dict[str, dict[Path, int]]:
    lines = {}
    for path in sources.rule_files:
        located, _ = parse(path.read_text(encoding="utf-8"), sources.display(path))
        if located is not None:
            lines[sources.display(path)] = located.lines
    return lines


def _lexicon_alone(sources: loader.Sources) -> Lexicon:
    """Load the lexicon files that are valid by themselves (when the rules are not)."""
    files = []
    for path in sources.lexicon_files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        located, problems = parse(text, sources.display(path))
        if located is None or problems or path.stem in (CUES_FILE, SPELLING_FILE):
            continue
        compiled, _ = load_file(sources.display(path), located)
        if compiled is not None:
            files.append(compiled)
    return Lexicon(tuple(files))


def lint_directory(root: FsPath) -> list[Finding]:
    """Check and lint a rules directory: every error ``check`` reports and every warning."""
    findings: list[Finding] = []
    try:
        checked = check(root)
        ruleset, lexicon = checked.loaded.ruleset, checked.loaded.lexicon
        sources = loader.discover(root)
    except InvalidFiles as exc:
        findings += [Finding.from_issue(issue) for issue in exc.issues]
        try:
            loaded = loader.load(root)
        except InvalidFiles:
            try:
                sources = loader.discover(root)
            except InvalidFiles:
                return findings
            return ordered([*findings, *duplicate_phrases(_lexicon_alone(sources))])
        ruleset, lexicon, sources = loaded.ruleset, loaded.lexicon, loader.discover(root)
    tests: list[RuleTest] | None
    try:
        tests = load_tests(root, frozenset(ruleset.by_id))
    except InvalidFiles as exc:
        findings += [Finding.from_issue(issue) for issue in exc.issues]
        tests = None
    return ordered([*findings, *lint(ruleset, lexicon, tests, _rule_lines(sources))])
