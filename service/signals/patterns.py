"""The phrase language of lexicon files, compiled to linear-time RE2 expressions.

Rule authors write phrases, not regular expressions:

* ``speak to a manager``: words, matched whole, in order;
* ``позовите , пожалуйста , руководител*``: a ``,`` marks where a comma may
  stand ("Позовите, пожалуйста, руководителя" and "позовите пожалуйста
  руководителя"); anywhere else a comma ends the phrase;
* ``kierowni*``, ``*قاضي*``: a word beginning (or ending, or containing) these letters;
* ``(manager|supervisor|boss)``: one of several alternatives (each may be several words);
* ``@managers``: one of the alternatives listed under ``lists: managers:`` in the file;
* ``please?``, ``(a|the)?``: an optional word or group;
* ``...``: up to three other words in between (never across a comma or a sentence end);
  ``...6``: up to six (at most ten: Chinese counts every character as a word);
* ``^`` first, ``$`` last: the phrase starts (ends) a sentence or clause.

A phrase is folded like message text (see ``normalize``), so case, Arabic
letter variants and full-width forms do not matter.  Compiled expressions run
on RE2, whose matching time is linear in the text length, so no phrase can
make matching slow; ``check`` refuses phrases that would fire on ordinary text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import re2

from service.hints import did_you_mean
from service.signals.normalize import HARD, SOFT, is_cjk, strip_diacritics, word_tokens

GAP_WORDS = 3
MAX_GAP_WORDS = 10  # the reach a phrase may give one gap: ...10
MAX_PATTERN_LENGTH = 600
MAX_ALTERNATIVES = 80
MAX_LIST_ITEMS = 200
MAX_GAPS = 2
MIN_STEM = 3  # letters before or after a *
MIN_SINGLE_WORD = 5  # a phrase of one word needs this many letters...
MIN_CLAUSE_WORD = 2  # ...unless it is a whole clause (^ word $)
MIN_LETTERS = 4  # letters every match must contain, at the least
MIN_CJK = 2  # CJK characters every match must contain, at the least

_SYNTAX = re.compile(r"\s*(\.\.\.[0-9]*|\(|\)|\||\?|\^|\$|,|@[a-z][a-z0-9_]*|[^\s()|?^$,]+)")
_UNIT_BOUNDARY = f"(?: [{re2.escape(HARD)}{re2.escape(SOFT)}] )"
_START = f"(?:^|{_UNIT_BOUNDARY})"
_END = f"(?:$|{_UNIT_BOUNDARY})"
_COMMA = f"(?: {re2.escape(SOFT)} )?"  # a "," in a phrase: a comma may stand here
_GAP_WORD = f"(?: [^ {re2.escape(HARD)}{re2.escape(SOFT)}]+ )"

Regex = Any  # re2's compiled expression type is private


class PatternError(ValueError):
    """A phrase that is malformed or unsafe; the message says why in plain words."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(f"{message}; {hint}" if hint else message)
        self.message, self.hint = message, hint


@dataclass(frozen=True)
class Word:
    """One word; ``prefix``/``suffix`` mean the word may continue before/after."""

    text: str
    prefix: bool = False
    suffix: bool = False


@dataclass(frozen=True)
class Gap:
    """Up to ``words`` other words (GAP_WORDS unless the phrase says ``...N``)."""

    words: int = GAP_WORDS


@dataclass(frozen=True)
class Comma:
    """A place where a comma may stand."""


@dataclass(frozen=True)
class Start:
    """The start of a sentence or clause."""


@dataclass(frozen=True)
class End:
    """The end of a sentence or clause."""


@dataclass(frozen=True)
class Group:
    """Alternatives, each a sequence of items."""

    alternatives: tuple[tuple[Item, ...], ...]


@dataclass(frozen=True)
class OptionalItem:
    """An optional item."""

    item: Item


Item = Word | Gap | Comma | Start | End | Group | OptionalItem
Lists = Mapping[str, Group]


class _Parser:
    """Parse one phrase; ``lists`` are the named word lists of its file."""

    def __init__(self, pattern: str, bare: bool, lists: Lists, plain: bool) -> None:
        if not pattern.strip():
            raise PatternError("the phrase is empty")
        if len(pattern) > MAX_PATTERN_LENGTH:
            raise PatternError(
                f"the phrase is longer than {MAX_PATTERN_LENGTH} characters; use a list"
            )
        self.tokens = _SYNTAX.findall(pattern)
        if "".join(self.tokens).replace(" ", "") != re.sub(r"\s+", "", pattern):
            raise PatternError("the phrase has characters that cannot be read")
        self.bare, self.lists, self.plain = bare, lists, plain

    def parse(self) -> tuple[Item, ...]:
        items, rest = self._sequence(0, depth=0, top=True)
        if rest != len(self.tokens):
            raise PatternError(f'unexpected "{self.tokens[rest]}"; check the parentheses')
        return items

    def _sequence(self, pos: int, depth: int, top: bool) -> tuple[tuple[Item, ...], int]:
        items: list[Item] = []
        tokens = self.tokens
        while pos < len(tokens) and tokens[pos] not in ("|", ")"):
            token = tokens[pos]
            pos += 1
            if token == "(":
                if depth >= 2:
                    raise PatternError("groups are nested more than two deep")
                group, pos = self._group(pos, depth + 1)
                items.append(group)
            elif token == "?":
                if not items or not isinstance(items[-1], Word | Group):
                    raise PatternError('"?" must follow a word or a group')
                items[-1] = OptionalItem(items[-1])
            elif token.startswith("..."):
                if self.plain:
                    raise PatternError('"..." cannot be used in a list item')
                items.append(_gap(token))
            elif token in ("^", "$"):
                if self.plain:
                    raise PatternError(f'"{token}" cannot be used in a list item')
                if token == "^" and (not top or items):
                    raise PatternError('"^" may only start a phrase')
                if token == "$" and (not top or pos != len(tokens)):
                    raise PatternError('"$" may only end a phrase')
                items.append(Start() if token == "^" else End())
            elif token == ",":
                items.append(Comma())
            elif token.startswith("@"):
                items.append(self._list(token[1:]))
            else:
                items.extend(_words(token, self.bare))
        return tuple(items), pos

    def _group(self, pos: int, depth: int) -> tuple[Group, int]:
        alternatives: list[tuple[Item, ...]] = []
        while True:
            sequence, pos = self._sequence(pos, depth, top=False)
            if not sequence:
                raise PatternError("a group has an empty alternative, as in (a||b) or (a|)")
            alternatives.append(sequence)
            if pos >= len(self.tokens):
                raise PatternError('a "(" is never closed')
            if self.tokens[pos] == ")":
                break
            pos += 1  # skip "|"
        if len(alternatives) > MAX_ALTERNATIVES:
            raise PatternError(f"a group has more than {MAX_ALTERNATIVES} alternatives; use a list")
        return Group(tuple(alternatives)), pos + 1

    def _list(self, name: str) -> Group:
        if name not in self.lists:
            hint = did_you_mean(name, self.lists, written="@{}") or "define it under lists:"
            raise PatternError(f'unknown list "@{name}"', hint)
        return self.lists[name]


def _gap(token: str) -> Gap:
    """Read ``...`` or ``...N``; refuse a reach of 0 or past MAX_GAP_WORDS."""
    if token == "...":
        return Gap()
    words = int(token[3:])
    if not 1 <= words <= MAX_GAP_WORDS:
        raise PatternError(
            f'"{token}" reaches {words} words; a gap reaches 1 to {MAX_GAP_WORDS} words',
            'write "..." for the usual three',
        )
    return Gap(words)


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
    pieces = word_tokens(core)
    # A joiner at a wildcard edge is part of the stem: "по-*" matches "по-висок".
    if pieces and suffix and core[-1] in "'-_":
        pieces[-1] += core[-1]
    if pieces and prefix and core[0] in "'-_":
        pieces[0] = core[0] + pieces[0]
    if HARD in pieces or SOFT in pieces or not pieces:
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


def parse(pattern: str, bare: bool = False, lists: Lists | None = None) -> tuple[Item, ...]:
    """Parse a phrase into items; raise PatternError for malformed ones."""
    return _Parser(pattern, bare, lists or {}, plain=False).parse()


def parse_list(items: list[str], bare: bool = False) -> Group:
    """Parse the alternatives of a named list (words, stems and groups only)."""
    if not items:
        raise PatternError("a list needs at least one alternative")
    if len(items) > MAX_LIST_ITEMS:
        raise PatternError(f"a list holds at most {MAX_LIST_ITEMS} alternatives")
    return Group(tuple(_Parser(item, bare, {}, plain=True).parse() for item in items))


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
    """Refuse phrases that would fire on ordinary text."""
    whole_clause = isinstance(items[0], Start) and isinstance(items[-1], End)
    core = tuple(item for item in items if not isinstance(item, Start | End | Comma))
    if not core:
        raise PatternError("the phrase has no words")
    if isinstance(core[0], Gap) or isinstance(core[-1], Gap):
        raise PatternError('a phrase cannot begin or end with "..."')
    if sum(isinstance(item, Gap) for item in core) > MAX_GAPS:
        raise PatternError(f'a phrase may contain "..." at most {MAX_GAPS} times')
    letters, cjk, words = _required_letters(core)
    if words == 0:
        raise PatternError("every word of the phrase is optional, so it would match any text")
    if cjk:
        if cjk + letters // 2 < (1 if whole_clause else MIN_CJK):
            raise PatternError(
                f"the phrase needs at least {MIN_CJK} Chinese, Japanese or Korean characters "
                "that are not optional; a single character matches too much text (unless it is "
                "a whole clause: ^ 滚 $)"
            )
    elif words == 1 and letters < (MIN_CLAUSE_WORD if whole_clause else MIN_SINGLE_WORD):
        raise PatternError(
            f"a phrase of one word needs at least {MIN_SINGLE_WORD} letters; a short word on its "
            "own matches too much text (add the words around it, or make it a whole clause: "
            "^ word $)"
        )
    elif letters < (MIN_CLAUSE_WORD if whole_clause else MIN_LETTERS):
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
        return f"{_GAP_WORD}{{0,{item.words}}}"
    if isinstance(item, Comma):
        return _COMMA
    if isinstance(item, Start):
        return _START
    if isinstance(item, End):
        return _END
    if isinstance(item, OptionalItem):
        return f"(?:{_item_regex(item.item)})?"
    return "(?:" + "|".join(to_regex(alt) for alt in item.alternatives) + ")"


def compile_phrase(pattern: str, bare: bool = False, lists: Lists | None = None) -> str:
    """Parse, check and compile one phrase; raise PatternError with the reason."""
    items = parse(pattern, bare, lists)
    check(items)
    return to_regex(items)


def compile_cue(pattern: str, bare: bool = False, lists: Lists | None = None) -> str:
    """Compile a negation cue or exclusion: like a phrase, but short words are allowed."""
    items = parse(pattern, bare, lists)
    if _required_letters(tuple(i for i in items if not isinstance(i, Start | End | Comma)))[2] == 0:
        raise PatternError("every word of the cue is optional, so it would match any text")
    return to_regex(items)


def options() -> re2.Options:
    """Return the RE2 options every lexicon program is compiled with."""
    options = re2.Options()
    options.max_mem = 64 << 20
    options.log_errors = False
    return options


def build(regexes: list[str]) -> Regex | None:
    """Compile alternatives into one RE2 program; None for an empty list."""
    if not regexes:
        return None
    try:
        return re2.compile("|".join(f"(?:{r})" for r in regexes), options())
    except re2.error as exc:
        raise PatternError(f"the phrases do not compile together: {exc}") from exc


def build_one(regex: str) -> Regex:
    """Compile a single alternative."""
    return re2.compile(regex, options())


@functools.lru_cache(maxsize=4096)
def build_cached(regex: str) -> Regex:
    """Compile a single alternative once per process."""
    return build_one(regex)


def build_set(regexes: list[str], whole: bool = False) -> Any:
    """Compile expressions into one RE2 set (of whole texts with ``whole``); None if refused."""
    compiled = re2.Set.FullMatchSet(options()) if whole else re2.Set.SearchSet(options())
    try:
        for regex in regexes:
            compiled.Add(regex)
        compiled.Compile()
    except (re2.error, RuntimeError, ValueError):
        return None
    return compiled


def max_tokens(items: tuple[Item, ...]) -> int:
    """Return how many tokens a match of ``items`` spans at most (with the ^ and $ it takes)."""
    total = 0
    for item in items:
        if isinstance(item, Gap):
            total += item.words
        elif isinstance(item, OptionalItem):
            total += max_tokens((item.item,))
        elif isinstance(item, Group):
            total += max(max_tokens(alternative) for alternative in item.alternatives)
        else:  # a word, a comma, or the sentence or clause mark a ^ or $ takes
            total += 1
    return total


def literal_words(items: tuple[Item, ...]) -> set[str]:
    """Return the whole words (no ``*``, not Chinese) a phrase's matches may contain."""
    found: set[str] = set()
    for item in items:
        if isinstance(item, OptionalItem):
            found |= literal_words((item.item,))
        elif isinstance(item, Group):
            for alternative in item.alternatives:
                found |= literal_words(alternative)
        elif (
            isinstance(item, Word)
            and not item.prefix
            and not item.suffix
            and not is_cjk(item.text[0])
        ):
            found.add(item.text)
    return found


def all_words(items: tuple[Item, ...]) -> set[Word]:
    """Return every word a phrase may match, whole or with ``*``."""
    found: set[Word] = set()
    for item in items:
        if isinstance(item, OptionalItem):
            found |= all_words((item.item,))
        elif isinstance(item, Group):
            for alternative in item.alternatives:
                found |= all_words(alternative)
        elif isinstance(item, Word):
            found.add(item)
    return found
