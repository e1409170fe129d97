"""Compile a validated rule set into a durable-rules definition and a fact layout.

The output is plain data: a ruleset definition for durable-rules, the list of
fact slots the definition reads, and the map from engine rule names back to
rule ids.  Compilation happens once per rule-set revision.

How conditions become engine rules, and why:

* Every rule becomes one engine rule per term of its disjunctive normal form,
  each term a single ``$and`` chain.  durable-rules fires a rule once per true
  ``$or`` branch; one chain per term keeps the engine graph predictable, which
  is what lets this module check the engine's limits before the engine does.
* The engine sees a compact fact: only the fields some rule reads, under short
  keys (``v0``, ``v1``...), typed, plus presence flags (``p0``) for fields that
  may be absent and derived booleans (``x0``) for ``contains``.  The engine
  never sees ``$nex``: it matches durable's own state document and loops
  forever once any other rule fires.  It never compares against a missing
  right-hand field either: durable treats a missing ``$m`` operand as a match,
  so every field reference is guarded by its presence flag.
* ``contains`` is a derived boolean because durable's regular expressions are
  ASCII-only when case-insensitive and lose matches on self-overlapping words,
  and ``$iall`` is false on an empty list.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from service.engine import catalog
from service.engine.catalog import FieldType
from service.engine.model import (
    AllOf,
    Condition,
    FieldRef,
    NotOf,
    Predicate,
    Rule,
    RuleSet,
    Scalar,
)

# durable-rules limits (see docs/durable-rules.md), each with a safety margin.
MAX_FACT_KEYS = 240  # error 302 at 253 keys per message
MAX_TERMS_PER_RULE = 64  # our own bound on DNF growth, to keep rules explainable
MAX_ENGINE_RULES = 4000  # MAX_ACTIONS is 4096 per ruleset
# A rule set larger than one engine ruleset is split into partitions of at most
# this many engine rules, each its own durable ruleset, routed by one field.
PARTITION_SIZE = 250
# Past one ruleset's limits the ceiling is memory and compile time, not the engine.
MAX_TOTAL_ENGINE_RULES = 100_000
MAX_SIBLINGS = 480  # a node with 512 children loops forever on the first post
MAX_SHARED_ENDINGS = 240  # BETA_LIST_LENGTH is 256
MAX_MATCH_STACK = 60  # error 303 when 64 conditions wait on the match stack

MARKER = "_"
EVICT_RULE = "$evict"


class CompileError(Exception):
    """A rule set the engine cannot run safely; ``problems`` says why, per rule."""

    def __init__(self, problems: Sequence[tuple[str | None, str]]) -> None:
        self.problems = list(problems)
        super().__init__(
            "; ".join(msg if rid is None else f"{rid}: {msg}" for rid, msg in problems)
        )


@dataclass(frozen=True)
class Slot:
    """A fact field the engine reads, stored under ``key``; ``presence`` flags absence."""

    key: str
    path: str
    type: FieldType | None
    presence: str | None


@dataclass(frozen=True)
class Feature:
    """A derived boolean: does ``path`` contain ``needle`` (a literal or another field)."""

    key: str
    path: str
    type: FieldType | None
    needle: str | FieldRef


@dataclass(frozen=True)
class KeyRef:
    """A literal's right-hand side that reads another engine key."""

    key: str


@dataclass(frozen=True, order=True)
class Lit:
    """One engine comparison ``key op value``; op is one of eq neq lt lte gt gte."""

    key: str
    op: str
    value: Scalar | KeyRef

    def to_engine(self) -> dict[str, object]:
        """Return the durable-rules JSON of this comparison."""
        value: object = {"$m": self.value.key} if isinstance(self.value, KeyRef) else self.value
        if self.op == "eq":
            return {self.key: value}
        return {f"${self.op}": {self.key: value}}


_NEGATE = {"eq": "neq", "neq": "eq", "lt": "gte", "gte": "lt", "gt": "lte", "lte": "gt"}
_ENGINE_OP = {"eq": "eq", "ne": "neq", "lt": "lt", "lte": "lte", "gt": "gt", "gte": "gte"}

# A formula in negation normal form: a literal, TRUE, FALSE, or ("and"|"or", parts).
Formula = Lit | bool | tuple[str, tuple["Formula", ...]]
Term = frozenset[Lit]


@dataclass(frozen=True)
class Partition:
    """One durable ruleset of a compiled rule set, and the facts it can match.

    ``route_values`` are the values of the routing key for which some rule of
    the partition can match; ``None`` means any fact (rules that test the
    routing key with no equality are in such partitions).
    """

    definition: dict[str, dict[str, object]]
    route_values: frozenset[Scalar] | None


@dataclass
class CompiledRuleSet:
    """Everything the engine backend and the fact builder need for one revision.

    ``definition`` holds every engine rule; ``partitions`` split it into
    durable rulesets within the engine's limits (one partition for most sets),
    and ``route_key`` names the fact key that picks the partitions to run.
    """

    revision: str
    definition: dict[str, dict[str, object]]
    slots: tuple[Slot, ...]
    features: tuple[Feature, ...]
    engine_rules: dict[str, str]  # engine rule name -> rule id
    field_types: dict[str, FieldType | None]
    stats: dict[str, int] = field(default_factory=dict)
    partitions: tuple[Partition, ...] = ()
    route_key: str | None = None

    @cached_property
    def slot_plan(self) -> tuple[tuple[str, str, FieldType | None, str | None], ...]:
        """Return each slot as (key, path, type, presence), unpacked once per revision."""
        return tuple((s.key, s.path, s.type, s.presence) for s in self.slots)


def field_types(ruleset: RuleSet) -> dict[str, FieldType | None]:
    """Return the type of every field the rule set reads; None where any scalar will do.

    An open attribute takes the type of what it is compared with; one that is
    only tested with ``exists`` accepts any scalar.
    """
    types: dict[str, FieldType | None] = {}

    def note(path: str, implied: FieldType | None) -> None:
        spec = catalog.lookup(path)
        known = spec.type if spec else implied
        if known is not None or path not in types:
            types[path] = known

    for rule in ruleset.rules:
        for pred in iter_predicates(rule.when):
            if isinstance(pred.value, FieldRef):
                ref_spec = catalog.lookup(pred.value.path)
                lhs_spec = catalog.lookup(pred.field)
                note(pred.field, ref_spec.type if ref_spec else None)
                note(pred.value.path, lhs_spec.type if lhs_spec else None)
            elif pred.op == "exists":
                note(pred.field, None)
            elif pred.op == "contains":
                note(pred.field, FieldType.STRING)
            else:
                note(pred.field, literal_type(pred.value))
    return types


def literal_type(value: object) -> FieldType:
    """Return the field type a literal implies (lists take their items' type)."""
    if isinstance(value, tuple):
        return literal_type(value[0]) if value else FieldType.STRING
    if isinstance(value, bool):
        return FieldType.BOOL
    if isinstance(value, int | float):
        return FieldType.NUMBER
    return FieldType.STRING


def iter_predicates(cond: Condition) -> Iterable[Predicate]:
    """Yield every predicate of a condition tree, depth first."""
    if isinstance(cond, Predicate):
        yield cond
    elif isinstance(cond, NotOf):
        yield from iter_predicates(cond.child)
    else:
        for child in cond.children:
            yield from iter_predicates(child)


class _Layout:
    """Assign engine keys to the fields and derived booleans a rule set reads."""

    def __init__(self, types: dict[str, FieldType | None]) -> None:
        self.types = types
        self.slots: dict[str, Slot] = {}
        self.features: dict[tuple[str, str | FieldRef], Feature] = {}

    def slot(self, path: str) -> Slot:
        if path not in self.slots:
            n = len(self.slots)
            spec = catalog.lookup(path)
            presence = None if spec is not None and spec.always else f"p{n}"
            self.slots[path] = Slot(f"v{n}", path, self.types[path], presence)
        return self.slots[path]

    def feature(self, path: str, needle: str | FieldRef) -> Feature:
        if (path, needle) not in self.features:
            if isinstance(needle, FieldRef):
                self.slot(needle.path)  # keep the reference's type on record
            key = f"x{len(self.features)}"
            self.features[(path, needle)] = Feature(key, path, self.types[path], needle)
        return self.features[(path, needle)]


def _and(*parts: Formula) -> Formula:
    return ("and", tuple(parts))


def _or(*parts: Formula) -> Formula:
    return ("or", tuple(parts))


def _absent(slot: Slot) -> Formula:
    return False if slot.presence is None else Lit(slot.presence, "eq", False)


def _present(slot: Slot) -> Formula:
    return True if slot.presence is None else Lit(slot.presence, "eq", True)


def _predicate(pred: Predicate, positive: bool, layout: _Layout) -> Formula:
    """Translate one predicate (or its negation) into engine literals."""
    op, value = pred.op, pred.value
    if op == "exists":
        slot = layout.slot(pred.field)
        return _present(slot) if bool(value) == positive else _absent(slot)
    if op == "contains":
        assert isinstance(value, str | FieldRef)
        feat = layout.feature(pred.field, value)
        return Lit(feat.key, "eq", positive)
    if op in ("not_in", "ne"):
        return _predicate(
            Predicate(pred.field, {"not_in": "in", "ne": "eq"}[op], value), not positive, layout
        )
    slot = layout.slot(pred.field)
    if op == "in":
        assert isinstance(value, tuple)
        if positive:
            return _or(*(Lit(slot.key, "eq", v) for v in value))
        return _or(_absent(slot), _and(*(Lit(slot.key, "neq", v) for v in value)))
    engine_op = _ENGINE_OP[op]
    if isinstance(value, FieldRef):
        ref = layout.slot(value.path)
        lit = Lit(slot.key, engine_op, KeyRef(ref.key))
        if positive:
            return _and(_present(ref), lit)
        return _or(_absent(slot), _absent(ref), Lit(slot.key, _NEGATE[engine_op], KeyRef(ref.key)))
    assert not isinstance(value, tuple)
    if positive:
        return Lit(slot.key, engine_op, value)
    return _or(_absent(slot), Lit(slot.key, _NEGATE[engine_op], value))


def to_nnf(cond: Condition, layout: _Layout, positive: bool = True) -> Formula:
    """Push negations down to the literals (De Morgan), translating predicates on the way."""
    if isinstance(cond, Predicate):
        return _predicate(cond, positive, layout)
    if isinstance(cond, NotOf):
        return to_nnf(cond.child, layout, not positive)
    parts = tuple(to_nnf(child, layout, positive) for child in cond.children)
    conjunctive = isinstance(cond, AllOf) == positive
    return _and(*parts) if conjunctive else _or(*parts)


def to_dnf(formula: Formula, limit: int) -> list[Term]:
    """Expand a formula into a list of satisfiable terms; raise OverflowError past ``limit``."""
    if formula is True:
        return [frozenset()]
    if formula is False:
        return []
    if isinstance(formula, Lit):
        return [frozenset((formula,))]
    kind, parts = formula
    if kind == "or":
        terms: list[Term] = []
        for part in parts:
            terms.extend(to_dnf(part, limit))
            if len(terms) > limit:
                raise OverflowError(len(terms))
        return _dedupe(terms)
    product: list[Term] = [frozenset()]
    for part in parts:
        sub = to_dnf(part, limit)
        product = [a | b for a, b in itertools.product(product, sub)]
        product = [t for t in product if _satisfiable(t)]
        if len(product) > limit:
            raise OverflowError(len(product))
    return _dedupe(product)


def _dedupe(terms: list[Term]) -> list[Term]:
    seen: set[Term] = set()
    return [t for t in terms if not (t in seen or seen.add(t))]  # type: ignore[func-returns-value]


def _satisfiable(term: Term) -> bool:
    """Drop terms no fact can satisfy: two values for one key, or a key both present and absent."""
    eq: dict[str, object] = {}
    for lit in term:
        if lit.op == "eq" and not isinstance(lit.value, KeyRef):
            if lit.key in eq and eq[lit.key] != lit.value:
                return False
            eq[lit.key] = lit.value
    for lit in term:
        if lit.op == "neq" and lit.key in eq and eq[lit.key] == lit.value:
            return False
        presence = "p" + lit.key[1:]
        if lit.key.startswith("v") and eq.get(presence) is False:
            return False
        if isinstance(lit.value, KeyRef) and eq.get("p" + lit.value.key[1:]) is False:
            return False
    return True


def _ordered(term: Term, frequency: Counter[str]) -> list[Lit]:
    """Order a term's literals so equality tests on common keys come first and are shared."""
    return sorted(
        term,
        key=lambda lit: (lit.op != "eq", -frequency[lit.key], lit.key, lit.op, repr(lit.value)),
    )


def compile_ruleset(ruleset: RuleSet, *, partition_size: int = PARTITION_SIZE) -> CompiledRuleSet:
    """Compile every rule; raise CompileError listing every rule the engine could not run.

    A set of more than ``partition_size`` engine rules is split into several
    durable rulesets (docs/durable-rules.md, "Partitions").
    """
    types = field_types(ruleset)
    layout = _Layout(types)
    problems: list[tuple[str | None, str]] = []
    rule_terms: list[tuple[Rule, list[Term]]] = []
    for rule in ruleset.rules:
        try:
            terms = to_dnf(to_nnf(rule.when, layout), MAX_TERMS_PER_RULE)
        except OverflowError:
            problems.append(
                (
                    rule.id,
                    f"the condition expands to more than {MAX_TERMS_PER_RULE} alternatives; "
                    "split the rule, or replace long `any` lists of equalities with `in`",
                )
            )
            continue
        rule_terms.append((rule, terms))

    frequency: Counter[str] = Counter(
        lit.key for _, terms in rule_terms for t in terms for lit in t
    )
    definition: dict[str, dict[str, object]] = {}
    engine_rules: dict[str, str] = {}
    chains: list[tuple[str, str, list[Lit]]] = []
    for rule, terms in rule_terms:
        for term in terms:
            name = f"t{len(engine_rules)}"
            chain = _ordered(term, frequency)
            engine_rules[name] = rule.id
            chains.append((name, rule.id, chain))
            definition[name] = {
                "all": [{"m": {"$and": [{MARKER: 1}, *(lit.to_engine() for lit in chain)]}}]
            }
    definition[EVICT_RULE] = EVICT_DEFINITION

    keys = (
        3 + len(layout.features) + sum(1 + (s.presence is not None) for s in layout.slots.values())
    )
    if keys > MAX_FACT_KEYS:
        problems.append(
            (None, f"the rules read {keys} fact fields; the engine takes at most {MAX_FACT_KEYS}")
        )
    if len(engine_rules) > MAX_TOTAL_ENGINE_RULES:
        problems.append(
            (
                None,
                f"the rules expand to {len(engine_rules)} engine rules; "
                f"the service takes at most {MAX_TOTAL_ENGINE_RULES}",
            )
        )
    size = max(1, min(partition_size, MAX_ENGINE_RULES - 1))
    route_key, groups = _partition(chains, size)
    partitions = []
    for names, values in groups:
        part_chains = [(rule_id, chain) for name, rule_id, chain in chains if name in names]
        problems.extend(p for p in check_network(part_chains) if p not in problems)
        part = {name: definition[name] for name in sorted(names, key=lambda n: int(n[1:]))}
        # The eviction rule matches every fact, so an action always runs: durable
        # segfaults in delete_state for a state where no action ever ran.
        part[EVICT_RULE] = EVICT_DEFINITION
        partitions.append(Partition(part, values))
    if problems:
        raise CompileError(problems)
    return CompiledRuleSet(
        revision=ruleset.revision,
        definition=definition,
        slots=tuple(layout.slots.values()),
        features=tuple(layout.features.values()),
        engine_rules=engine_rules,
        field_types=types,
        stats={
            "rules": len(ruleset.rules),
            "engine_rules": len(engine_rules),
            "fact_keys": keys,
            "partitions": len(partitions),
        },
        partitions=tuple(partitions),
        route_key=route_key,
    )


EVICT_DEFINITION: dict[str, object] = {"pri": 65000, "all": [{"m": {MARKER: 1}}]}


def _route_value(chain: Sequence[Lit], key: str) -> Scalar | None:
    for lit in chain:
        if lit.key == key and lit.op == "eq" and not isinstance(lit.value, KeyRef):
            return lit.value
    return None


def _partition(
    chains: Sequence[tuple[str, str, Sequence[Lit]]], size: int
) -> tuple[str | None, list[tuple[set[str], frozenset[Scalar] | None]]]:
    """Split engine rules into groups of at most ``size``, routed by one fact key.

    The routing key is the value field most engine rules test for equality
    (typically ``event.type``): a fact then runs only the partitions holding
    rules for its value, plus those whose rules do not test that key.  Each
    value's rules are kept together where they fit, so most facts run one
    partition; a value with more rules than fit is spread over several.
    """
    names = [name for name, _, _ in chains]
    if len(chains) + 1 <= size:
        return None, [(set(names), None)]
    counts: Counter[str] = Counter(
        lit.key
        for _, _, chain in chains
        for lit in chain
        if lit.key.startswith("v") and lit.op == "eq" and not isinstance(lit.value, KeyRef)
    )
    route_key = counts.most_common(1)[0][0] if counts else None
    by_value: dict[Scalar, list[str]] = defaultdict(list)
    anywhere: list[str] = []
    for name, _, chain in chains:
        value = _route_value(chain, route_key) if route_key else None
        if value is None:
            anywhere.append(name)
        else:
            by_value[value].append(name)
    groups: list[tuple[set[str], frozenset[Scalar] | None]] = []
    room = size - 1  # each partition has its own eviction rule
    for start in range(0, len(anywhere), room):
        groups.append((set(anywhere[start : start + room]), None))
    # First fit, largest values first: values share a partition while they fit.
    open_parts: list[tuple[set[str], set[Scalar]]] = []
    for value, members in sorted(by_value.items(), key=lambda kv: (-len(kv[1]), repr(kv[0]))):
        # A value's rules stay together up to what one engine ruleset takes: a
        # fact of a split value runs every piece, which costs more than size.
        pieces = -(-len(members) // (MAX_ENGINE_RULES - 1))
        step = -(-len(members) // pieces)
        for start in range(0, len(members), step):
            piece = members[start : start + step]
            for part_names, values in open_parts:
                if len(part_names) + len(piece) <= room:
                    part_names.update(piece)
                    values.add(value)
                    break
            else:
                open_parts.append((set(piece), {value}))
    groups.extend((part_names, frozenset(values)) for part_names, values in open_parts)
    return route_key, groups


@dataclass
class _Node:
    children: dict[Lit, _Node] = field(default_factory=dict)
    endings: int = 0
    rules: set[str] = field(default_factory=set)


def check_network(chains: Sequence[tuple[str, Sequence[Lit]]]) -> list[tuple[str | None, str]]:
    """Check the engine's condition graph (shared prefixes of the chains) against its limits.

    durable-rules shares a condition node between rules whose chains start the
    same way, keeps at most 511 children per node, 255 rule endings per node,
    and fails with error 303 when more than 64 matching nodes wait on its match
    stack.  The stack bound computed here is conservative: equality tests on
    one key count once, every other test counts as if it could match.
    """
    root = _Node()
    for rule_id, chain in chains:
        node = root
        node.rules.add(rule_id)
        for lit in chain:
            node = node.children.setdefault(lit, _Node())
            node.rules.add(rule_id)
        node.endings += 1

    problems: list[tuple[str | None, str]] = []

    def names(node: _Node) -> str:
        ids = sorted(node.rules)
        shown = ", ".join(ids[:8])
        return shown + (f" and {len(ids) - 8} more" if len(ids) > 8 else "")

    def walk(node: _Node) -> int:
        if len(node.children) > MAX_SIBLINGS:
            problems.append(
                (
                    None,
                    f"{len(node.children)} different conditions follow the same shared "
                    f"condition in rules {names(node)}; the engine takes at most {MAX_SIBLINGS}: "
                    "group the rules by a common first condition such as event.type",
                )
            )
        if node.endings > MAX_SHARED_ENDINGS:
            problems.append(
                (
                    None,
                    f"{node.endings} rules have exactly the same condition ({names(node)}); "
                    f"the engine takes at most {MAX_SHARED_ENDINGS}",
                )
            )
        by_key: dict[str, list[Lit]] = defaultdict(list)
        for lit in node.children:
            by_key[lit.key].append(lit)
        may_match = sum(
            min(1, sum(lit.op == "eq" and not isinstance(lit.value, KeyRef) for lit in lits))
            + sum(lit.op != "eq" or isinstance(lit.value, KeyRef) for lit in lits)
            for lits in by_key.values()
        )
        deepest = max((walk(child) for child in node.children.values()), default=0)
        return max(1, may_match - 1 + deepest)

    bound = walk(root) + 1
    if bound > MAX_MATCH_STACK:
        problems.append(
            (
                None,
                f"up to {bound} conditions could match one event at the same time "
                f"(the engine takes at most {MAX_MATCH_STACK}); overlapping range tests on one "
                "field in many rules cause this: add a distinguishing equality such as "
                "event.type, or merge thresholds",
            )
        )
    return problems


class Normaliser:
    """Put conditions in DNF over one set of engine keys, for analyses such as ``lint``.

    Every condition normalised by one instance uses the same key for the same
    field, so terms of different rules can be compared literal by literal.
    """

    def __init__(self, ruleset: RuleSet) -> None:
        self._layout = _Layout(field_types(ruleset))

    def terms(self, cond: Condition, positive: bool = True) -> list[Term]:
        """Return the satisfiable DNF terms of a condition (or its negation).

        Raise OverflowError past the compiler's bound on terms per rule.
        """
        return to_dnf(to_nnf(cond, self._layout, positive), MAX_TERMS_PER_RULE)

    @property
    def slots(self) -> dict[str, Slot]:
        """Return the fact slots by field path, as far as conditions have been normalised."""
        return dict(self._layout.slots)

    @property
    def features(self) -> tuple[Feature, ...]:
        """Return the derived booleans, as far as conditions have been normalised."""
        return tuple(self._layout.features.values())
