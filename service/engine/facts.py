"""Facts: the flat, typed view of an evaluation that rules read.

A fact view maps a field path (``case.hostility``) to its value; an absent
path is a missing value.  ``typed`` is the single place that decides whether a
value counts for a field of a given type, so the engine path, the explainer
and the reference evaluator in the tests all see the same facts.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from typing import cast

from service.engine.catalog import FieldType
from service.engine.compiler import MARKER, CompiledRuleSet
from service.engine.model import FieldRef

FactValue = str | int | float | bool | tuple[str, ...]
Facts = Mapping[str, FactValue]


class _Missing:
    """The absence of a value."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


def typed(value: object, type_: FieldType | None) -> FactValue | _Missing:
    """Return the value if it is of ``type_`` (any scalar for None), else MISSING.

    Booleans are not numbers here, strings are NFC-normalised so that composed
    and decomposed accents compare equal, and non-finite numbers are missing.
    """
    # The common facts first, by exact class (every slot of every event comes here):
    # a plain int is finite and no bool, and ASCII text is its own NFC form.
    if type(value) is int:
        return value if type_ is FieldType.NUMBER or type_ is None else MISSING
    if type(value) is str and value.isascii():
        return value if type_ is FieldType.STRING or type_ is None else MISSING
    if type(value) is float:
        if type_ is FieldType.NUMBER or type_ is None:
            return value if math.isfinite(value) else MISSING
        return MISSING
    if (
        type(value) is tuple
        and type_ is FieldType.LIST
        and all(type(item) is str and item.isascii() for item in value)
    ):
        return cast(tuple[str, ...], value)
    if isinstance(value, bool):
        return value if type_ in (FieldType.BOOL, None) else MISSING
    if isinstance(value, int | float):
        if type_ not in (FieldType.NUMBER, None):
            return MISSING
        return value if math.isfinite(value) else MISSING
    if isinstance(value, str):
        if type_ not in (FieldType.STRING, None):
            return MISSING
        return unicodedata.normalize("NFC", value)
    if (
        type_ is FieldType.LIST
        and isinstance(value, list | tuple)
        and all(isinstance(item, str) for item in value)
    ):
        return tuple(unicodedata.normalize("NFC", item) for item in value)
    return MISSING


def contains(haystack: object, needle: object) -> bool:
    """Tell whether a string contains a substring (case-insensitive) or a list holds an item."""
    if isinstance(needle, _Missing) or not isinstance(needle, str):
        return False
    needle = unicodedata.normalize("NFC", needle)
    if isinstance(haystack, str):
        return needle.casefold() in unicodedata.normalize("NFC", haystack).casefold()
    if isinstance(haystack, tuple | list):
        return needle in haystack
    return False


def value_of(facts: Facts, path: str, type_: FieldType | None) -> FactValue | _Missing:
    """Return the typed value of ``path`` in ``facts``."""
    return typed(facts.get(path, MISSING), type_)


def engine_fact(compiled: CompiledRuleSet, facts: Facts, sid: str) -> dict[str, object]:
    """Build the compact engine fact: only the keys the compiled rules read."""
    fact: dict[str, object] = {"sid": sid, "id": "f", MARKER: 1}
    get = facts.get
    for key, path, type_, presence in compiled.slot_plan:
        value = typed(get(path, MISSING), type_)
        if value is MISSING:
            if presence is None:
                raise ValueError(f"fact {path} must always be present")
            fact[presence] = False
            continue
        if presence is not None:
            fact[presence] = True
        if value.__class__ is not tuple:
            fact[key] = value
    for feat in compiled.features:
        haystack = value_of(facts, feat.path, feat.type)
        needle: object = feat.needle
        if isinstance(feat.needle, FieldRef):
            needle = value_of(facts, feat.needle.path, None)
        fact[feat.key] = contains(haystack, needle)
    return fact
