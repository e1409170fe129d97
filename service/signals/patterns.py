"""The phrase language of lexicon files, compiled to linear-time RE2 expressions.

Rule authors write phrases, not regular expressions:

* ``speak to a manager``: words, matched whole, in order;
* ``kierowni*``, ``*قاضي*``: a word beginning (or ending, or containing) these letters;
* ``(manager|supervisor|boss)``: one of several alternatives (each may be several words);
* ``please?``, ``(a|the)?``: an optional word or group;
* ``...``: up to three other words in between (never across a sentence end).

A phrase is folded like message text (see ``normalize``), so case, Arabic
letter variants and full-width forms do not matter.  Compiled expressions run
on RE2, whose matching time is linear in the text length, so no phrase can
make matching slow; ``check`` refuses phrases that would fire on ordinary text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import re2

from service.signals.normalize import BOUNDARY, fold, is_cjk, strip_diacritics, tokenize

GAP_WORDS = 3
MAX_PATTERN_LENGTH = 300
MAX_ALTERNATIVES = 40
MAX_GAPS = 2
MIN_STEM = 3  # letters before or after a *
MIN_SINGLE_WORD = 5  # a phrase of one word needs this many letters
MIN_LETTERS = 4  # letters every match must contain, at the least
MIN_CJK = 2  # CJK characters every match must contain, at the least

_SYNTAX = re.compile(r"\s*(\.\.\.|\(|\)|\||\?|[^\s()|?]+)")


Regex = Any  # re2's compiled expression type is private


class PatternError(ValueError):
    """A phrase that is malformed or unsafe; the message says why in plain words."""


@dataclass(frozen=True)
class Word:
    """One word; ``prefix``/``suffix`` mean the word may continue before/after."""

    text: str
    prefix: bool = False
    suffix: bool = False


@dataclass(frozen=True)
class Gap:
    """Up to GAP_WORDS other words."""


@dataclass(frozen=True)
class Group:
    """Alternatives, each a sequence of items."""

    alternatives: tuple[tuple[Item, ...], ...]


@dataclass(frozen=True)
class OptionalItem:
    """An optional item."""

    item: Item


Item = Word | Gap | Group | OptionalItem


def parse(pattern: str, bare: bool = False) -> tuple[Item, ...]:
    """Parse a phrase into items; raise PatternError for malformed ones."""
    if not pattern.strip():
        raise PatternError("the phrase is empty")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise PatternError(f"the phrase is longer than {MAX_PATTERN_LENGTH} characters")
    tokens = _SYNTAX.findall(pattern)
    if "".join(tokens).replace(" ", "") != re.sub(r"\s+", "", pattern):
        raise PatternError("the phrase has characters that cannot be read")
    items, rest = _sequence(tokens, 0, bare, depth=0)
    if rest != len(tokens):
        raise PatternError(f'unexpected "{tokens[rest]}"; check the parentheses')
    return items


def _sequence(tokens: list[str], pos: int, bare: bool, depth: int) -> tuple[tuple[Item, ...], int]:
    items: list[Item] = []
    while pos < len(tokens) and tokens[pos] not in ("|", ")"):
        token = tokens[pos]
        if token == "(":
            if depth >= 2:
                raise PatternError("groups are nested more than two deep")
            group, pos = _group(tokens, pos + 1, bare, depth + 1)
            items.append(group)
        elif token == "?":
            if not items or isinstance(items[-1], OptionalItem | Gap):
                raise PatternError('"?" must follow a word or a group')
            items[-1] = OptionalItem(items[-1])
            pos += 1
        elif token == "...":
            items.append(Gap())
            pos += 1
        else:
            items.extend(_words(token, bare))
            pos += 1
    return tuple(items), pos


def _group(tokens: list[str], pos: int, bare: bool, depth: int) -> tuple[Group, int]:
    alternatives: list[tuple[Item, ...]] = []
    while True:
        sequence, pos = _sequence(tokens, pos, bare, depth)
        if not sequence:
            raise PatternError("a group has an empty alternative, as in (a||b) or (a|)")
        alternatives.append(sequence)
        if pos >= len(tokens):
            raise PatternError('a "(" is never closed')
        if tokens[pos] == ")":
            break
        pos += 1  # skip "|"
    if len(alternatives) > MAX_ALTERNATIVES:
        raise PatternError(f"a group has more than {MAX_ALTERNATIVES} alternatives")
    return Group(tuple(alternatives)), pos + 1


def _words(token: str, bare: bool) -> list[Item]:
    """Fold one written word into tokens as the message normaliser would."""
    prefix, suffix = token.startswith("*"), token.endswith("*") and len(token) > 1
    core = token.strip("*")
    if "*" in core:
        raise PatternError(
            f'"*" may stand only at the start or end of a word, not inside "{token}"'
        )
    if not core:
        raise PatternError('"*" must be attached to letters, as in kierowni*')
    pieces = [piece for piece, _, _ in tokenize(fold(core))]
    if BOUNDARY in pieces or not pieces:
        raise PatternError(
            f'"{token}" contains punctuation that messages never match; leave it out'
        )
    words: list[Item] = []
    for index, piece in enumerate(pieces):
        text = strip_diacritics(piece) if bare else piece
        starts, ends = index == 0 and prefix, index == len(pieces) - 1 and suffix
        if (starts or ends) and is_cjk(text[0]):
            raise PatternError(
                f'"*" cannot be used with Chinese, Japanese or Korean characters ("{token}")'
            )
        if (starts or ends) and len(text) < MIN_STEM:
            raise PatternError(
                f'the word part "{text}" of "{token}" is shorter than {MIN_STEM} letters and '
                "would match too many words"
            )
        words.append(Word(text, prefix=starts, suffix=ends))
    return words


def _required_letters(items: tuple[Item, ...]) -> tuple[int, int, int]:
    """Return (letters, CJK characters, words) that every match of ``items`` must contain."""
    letters = cjk = words = 0
    for item in items:
        if isinstance(item, Word):
            if is_cjk(item.text[0]):
                cjk += len(item.text)
            else:
                letters += len(item.text)
            words += 1
        elif isinstance(item, Group):
            counts = [_required_letters(alt) for alt in item.alternatives]
            letters += min(c[0] for c in counts)
            cjk += min(c[1] for c in counts)
            words += min(c[2] for c in counts)
    return letters, cjk, words


def check(items: tuple[Item, ...]) -> None:
    """Refuse phrases that would fire on ordinary text or match across anything."""
    if isinstance(items[0], Gap) or isinstance(items[-1], Gap):
        raise PatternError('a phrase cannot begin or end with "..."')
    if sum(isinstance(item, Gap) for item in items) > MAX_GAPS:
        raise PatternError(f'a phrase may contain "..." at most {MAX_GAPS} times')
    letters, cjk, words = _required_letters(items)
    if words == 0:
        raise PatternError("every word of the phrase is optional, so it would match any text")
    if cjk:
        if cjk + letters // 2 < MIN_CJK:
            raise PatternError(
                f"the phrase needs at least {MIN_CJK} Chinese, Japanese or Korean characters "
                "that are not optional; a single character matches too much text"
            )
    elif words == 1 and letters < MIN_SINGLE_WORD:
        raise PatternError(
            f"a phrase of one word needs at least {MIN_SINGLE_WORD} letters; a short word on its "
            "own matches too much text (add the words around it)"
        )
    elif letters < MIN_LETTERS:
        raise PatternError(f"the phrase needs at least {MIN_LETTERS} letters that are not optional")


def to_regex(items: tuple[Item, ...]) -> str:
    """Compile parsed items to an RE2 expression over the canonical string."""
    return "".join(_item_regex(item) for item in items)


def _item_regex(item: Item) -> str:
    if isinstance(item, Word):
        before = "[^ ]*" if item.prefix else ""
        after = "[^ ]*" if item.suffix else ""
        return f" {before}{re2.escape(item.text)}{after} "
    if isinstance(item, Gap):
        return f"(?: [^ {re2.escape(BOUNDARY)}]+ ){{0,{GAP_WORDS}}}"
    if isinstance(item, OptionalItem):
        return f"(?:{_item_regex(item.item)})?"
    return "(?:" + "|".join(to_regex(alt) for alt in item.alternatives) + ")"


def compile_phrase(pattern: str, bare: bool = False) -> str:
    """Parse, check and compile one phrase; raise PatternError with the reason."""
    items = parse(pattern, bare)
    check(items)
    return to_regex(items)


def compile_cue(pattern: str, bare: bool = False) -> str:
    """Compile a negation cue: like a phrase, but a short word such as "not" is allowed."""
    items = parse(pattern, bare)
    if _required_letters(items)[2] == 0:
        raise PatternError("every word of the cue is optional, so it would match any text")
    return to_regex(items)


def _options() -> re2.Options:
    options = re2.Options()
    options.max_mem = 64 << 20
    options.log_errors = False
    return options


def build(regexes: list[str]) -> Regex | None:
    """Compile alternatives into one RE2 program; None for an empty list."""
    if not regexes:
        return None
    try:
        return re2.compile("|".join(f"(?:{r})" for r in regexes), _options())
    except re2.error as exc:
        raise PatternError(f"the phrases do not compile together: {exc}") from exc


def build_one(regex: str) -> Regex:
    """Compile a single alternative."""
    return re2.compile(regex, _options())
