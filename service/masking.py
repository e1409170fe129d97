"""Mask what customers wrote before it is stored, logged or shown: one function, three policies.

``keep`` shows a value as it is, ``hash`` replaces it with a stand-in that
tells its length and a SHA-256 prefix (keyed with HMAC when a key is set, so
short values cannot be guessed by hashing candidates), and ``drop`` removes
it.  Which event attribute values are not customer text (numbers and
enumerations the rules read) is told by ``Readable``; docs/masking.md says
what each output holds under each policy.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ATTRIBUTE_PREFIX = "event.attributes."
PREFIX_CHARS = 16


class TextPolicy(enum.StrEnum):
    """How a masked output shows a value that may carry customer text."""

    DROP = "drop"
    HASH = "hash"
    KEEP = "keep"


def parse_policy(text: str) -> TextPolicy:
    """Read a policy name (drop, hash or keep); raise ValueError naming the choices otherwise."""
    try:
        return TextPolicy(text.strip().lower())
    except ValueError:
        raise ValueError(f"expected drop, hash or keep, not {text!r}") from None


def digest(value: object, key: bytes | None = None) -> dict[str, Any]:
    """Return the stand-in of a value: its length and a SHA-256 (or HMAC-SHA-256) prefix."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    data = text.encode("utf-8", "surrogatepass")
    hexdigest = (
        hmac.new(key, data, hashlib.sha256).hexdigest()
        if key
        else hashlib.sha256(data).hexdigest()
    )
    return {"masked": True, "length": len(text), "sha256_prefix": hexdigest[:PREFIX_CHARS]}


def is_masked(value: object) -> bool:
    """Tell whether a value is a stand-in made by ``digest``."""
    return isinstance(value, dict) and value.get("masked") is True


def mask(value: object, policy: TextPolicy, key: bytes | None = None) -> object:
    """Return a value as ``policy`` shows it: itself, its stand-in, or None when dropped.

    None (nothing to hide) and values already masked are returned as they are.
    """
    if policy is TextPolicy.KEEP or value is None or is_masked(value):
        return value
    if policy is TextPolicy.DROP:
        return None
    return digest(value, key)


def mask_item(
    mapping: Mapping[str, Any], name: str, policy: TextPolicy, key: bytes | None = None
) -> dict[str, Any]:
    """Return a copy of ``mapping`` with ``name`` masked, or removed under ``drop``."""
    copy = dict(mapping)
    if name not in copy or copy[name] is None:
        return copy
    if policy is TextPolicy.DROP:
        del copy[name]
    else:
        copy[name] = mask(copy[name], policy, key)
    return copy


@dataclass(frozen=True)
class Readable:
    """Which event attribute values are plain data rather than text: shown even when masking.

    An attribute counts when the rules (or the field catalogue) read it as a
    number or a boolean and the value is one, or as an enumeration (a catalogued
    choice, or the string literals rules compare it with) and the value is one
    of those.  Anything else may be something a customer wrote.
    """

    numbers: frozenset[str] = frozenset()
    booleans: frozenset[str] = frozenset()
    choices: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def shows(self, name: str, value: object) -> bool:
        """Tell whether attribute ``name`` (bare or as event.attributes.name) may show ``value``."""
        name = name.removeprefix(ATTRIBUTE_PREFIX)
        if isinstance(value, bool):
            return name in self.booleans
        if isinstance(value, int | float):
            return name in self.numbers
        return isinstance(value, str) and value in self.choices.get(name, frozenset())

    def attributes(
        self, attributes: Mapping[str, Any], policy: TextPolicy, key: bytes | None = None
    ) -> dict[str, Any]:
        """Return event attributes with every value that is not plain data masked."""
        shown: dict[str, Any] = {}
        for name, value in attributes.items():
            if policy is TextPolicy.KEEP or self.shows(name, value):
                shown[name] = value
            elif policy is TextPolicy.HASH:
                shown[name] = mask(value, policy, key)
        return shown


NOTHING_READABLE = Readable()


def mask_signals(
    signals: list[dict[str, Any]], policy: TextPolicy, key: bytes | None = None
) -> list[dict[str, Any]]:
    """Return signals (wire or stored form) with the matched words (``evidence``) masked.

    A spelling rewrite (``edits``: "manger→manager") shows the word as written:
    it keeps only what it was read as, a lexicon word.
    """
    masked = []
    for signal in signals:
        item = mask_item(signal, "evidence", policy, key)
        if policy is not TextPolicy.KEEP and item.get("edits"):
            item["edits"] = [_masked_edit(edit) for edit in item["edits"]]
        masked.append(item)
    return masked


def _masked_edit(edit: object) -> object:
    if not isinstance(edit, str) or "→" not in edit:
        return edit
    written, read = edit.split("→", 1)
    if written.startswith("(text, "):
        return edit  # masked already
    return f"(text, {len(written)} characters)→{read}"


def scrub_why(why: str, signals: list[dict[str, Any]]) -> str:
    """Return a ``why`` with the words of decisions stored before masking replaced by a stand-in.

    Those rendered a signal as ``matched '<evidence>'``; today's name the entry.
    """
    for signal in signals:
        evidence = signal.get("evidence")
        if isinstance(evidence, str) and evidence:
            stand_in = f"matched (text, {len(evidence)} characters)"
            why = why.replace(f"matched '{evidence}'", stand_in)
    return why


def mask_decision(
    decision: Mapping[str, Any], policy: TextPolicy, key: bytes | None = None
) -> dict[str, Any]:
    """Return a decision in its wire or stored form with the evidence words masked.

    Everything else a decision holds is free of message text by construction:
    ``why`` and explanations name lexicon entries and show attribute values
    only when ``Readable`` says so (service.engine.explain); a ``why`` stored
    before that is scrubbed of its evidence.
    """
    masked = dict(decision)
    signals = masked.get("signals")
    if not isinstance(signals, list) or policy is TextPolicy.KEEP:
        return masked
    matched = masked.get("matched_rules")
    if isinstance(matched, list):
        masked["matched_rules"] = [
            {**m, "why": scrub_why(m["why"], signals)} if isinstance(m.get("why"), str) else m
            for m in matched
        ]
    masked["signals"] = mask_signals(signals, policy, key)
    return masked
