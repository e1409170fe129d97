"""Turn message text into tokens that lexicon phrases match, keeping original offsets.

Normalisation, applied the same way to messages and to lexicon phrases:

* Unicode NFKC, then full case folding (``str.casefold``), which works for
  every script, not only ASCII;
* Arabic: alef variants to bare alef, taa marbuta to haa, alef maksura to yaa,
  no tatweel, no harakat; Russian: ``ё`` to ``е``; typographic apostrophes to ``'``;
* optionally without diacritics (``ą`` -> ``a``, ``ł`` -> ``l``, ``é`` -> ``e``), for
  people who type without them;
* Chinese, Japanese and Korean characters are one token each, so phrases
  match without relying on spaces; a French elision is a token of its own
  (``l'`` ``avocat``).

The matching text is a *canonical string*: every token written as `` token ``
(a space on each side, so two spaces between tokens), a sentence end written
as the token ``|`` and a comma or colon as the token ``,``.  Lexicon patterns compile to
regular expressions over that string; a match's first and last token map back
to a span of the original message.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate, repeat
from operator import add

HARD = "|"  # a sentence end: nothing crosses it
SOFT = ","  # a comma or colon: a phrase may step over it, gaps and negation windows may not
BOUNDARIES = frozenset((HARD, SOFT))
# Longer tokens (base64, URLs, runs of one letter) match nothing: this keeps
# every phrase match, and so every rescan, of bounded length.
MAX_TOKEN = 64
LONG_TOKEN = "#"
# Sentence ends, and clause punctuation (commas, colons) in every script.
_HARD_CHARS = frozenset(".!?;\n\r\u2026\u3002\uff01\uff1f\uff1b\u061b\u061f\u06d4\u00a1\u00bf")
_SOFT_CHARS = frozenset(",:\uff0c\u3001\u060c\uff1a")
_JOINERS = frozenset("'-_")  # kept inside a word: won't, e-mail
_APOSTROPHES = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u0060": "'", "\u00b4": "'"}
)
_SCRIPT_FOLDS = str.maketrans(
    {
        "\u0623": "\u0627",  # alef with hamza above
        "\u0625": "\u0627",  # alef with hamza below
        "\u0622": "\u0627",  # alef with madda
        "\u0671": "\u0627",  # alef wasla
        "\u0629": "\u0647",  # taa marbuta -> haa
        "\u0649": "\u064a",  # alef maksura -> yaa
        "\u0640": None,  # tatweel
        "\u0451": "\u0435",  # ё -> е
    }
)
_ARABIC_MARKS = frozenset(chr(c) for c in (*range(0x064B, 0x0660), 0x0670))
# Letters that carry a diacritic but do not decompose under NFD.
_UNDECOMPOSED = str.maketrans(
    {"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ı": "i", "ŀ": "l", "æ": "ae", "œ": "oe"}
)


def is_cjk(ch: str) -> bool:
    code = ord(ch)
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2FFFF
        or 0xF900 <= code <= 0xFAFF
        or 0x3040 <= code <= 0x30FF  # hiragana, katakana
        or 0xAC00 <= code <= 0xD7AF  # hangul syllables
    )


def fold(text: str) -> str:
    """Apply the case and script folding every token goes through."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_APOSTROPHES)
    text = text.translate(_SCRIPT_FOLDS)
    return "".join(ch for ch in text if ch not in _ARABIC_MARKS)


def strip_diacritics(token: str) -> str:
    """Remove diacritics from Latin letters, leaving other scripts alone."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFD", token.translate(_UNDECOMPOSED)):
        if unicodedata.combining(ch) and out and out[-1].isascii():
            continue
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


@dataclass(frozen=True)
class Token:
    """One token: its folded form, its diacritic-free form, and its span in the original."""

    text: str
    bare: str
    start: int
    end: int


@dataclass(frozen=True)
class Canonical:
    """The canonical string of a token list, in UTF-8, and where each token stands in it.

    RE2 works on UTF-8: handing it bytes once, rather than text it must encode
    on every call, keeps repeated searches over one message linear.  A match
    starts at a token's leading space and ends after a token's trailing space;
    ``first`` and ``last`` find those tokens by bisection, so no table per
    byte is built for every message (and every reading of it).
    """

    data: bytes
    offsets: tuple[int, ...]  # token index -> offset of its leading space; one extra at the end

    def first(self, offset: int) -> int:
        """Return the index of the token whose leading space stands at ``offset``."""
        index = bisect_left(self.offsets, offset)
        if index >= len(self.offsets) - 1 or self.offsets[index] != offset:
            raise KeyError(offset)
        return index

    def last(self, offset: int) -> int:
        """Return the index of the token whose trailing space ends just before ``offset``."""
        index = bisect_left(self.offsets, offset) - 1
        if index < 0 or index >= len(self.offsets) - 1 or self.offsets[index + 1] != offset:
            raise KeyError(offset)
        return index


@dataclass(frozen=True)
class Normalized:
    """A message prepared for matching: its tokens as parallel sequences.

    Parallel sequences rather than one object per token: a long message has
    hundreds of thousands of tokens, and a language's own reading of it is
    made by slicing these.
    """

    original: str
    texts: Sequence[str]  # folded form of each token
    bares: Sequence[str]  # diacritic-free form of each token
    starts: Sequence[int]  # where each token starts in the original
    ends: Sequence[int]  # where each token ends in the original

    # Made on first use (a reading may need only one); cached by hand, not with
    # functools.cached_property, whose lock costs more than a short message's canonical.
    @property
    def exact(self) -> Canonical:
        """Return the canonical string of the folded tokens."""
        found: Canonical | None = self.__dict__.get("_exact")
        if found is None:
            found = self.__dict__["_exact"] = canonical(self.texts)
        return found

    @property
    def bare(self) -> Canonical:
        """Return the canonical string of the diacritic-free tokens."""
        found: Canonical | None = self.__dict__.get("_bare")
        if found is None:
            # Most messages have no diacritic to leave out: their two strings are one.
            same = self.bares == self.texts
            found = self.__dict__["_bare"] = self.exact if same else canonical(self.bares)
        return found

    @functools.cached_property
    def tokens(self) -> tuple[Token, ...]:
        """Return the tokens as objects (for tests and tools; matching uses the sequences)."""
        return tuple(map(Token, self.texts, self.bares, self.starts, self.ends))

    def span(self, first: int, last: int) -> tuple[int, int]:
        """Return the original-text span from token ``first`` to token ``last``."""
        return self.starts[first], self.ends[last]


@functools.lru_cache(maxsize=8192)
def _char_class(ch: str) -> str:
    if ch in _HARD_CHARS:
        return HARD
    if ch in _SOFT_CHARS:
        return SOFT
    if is_cjk(ch):
        return "cjk"
    category = unicodedata.category(ch)
    if category[0] in "LNM" or ch in _JOINERS or ch in "\u2019\u02bc":
        return "word"
    return "space"


_CLASS_LETTERS = {"word": "w", "cjk": "c", HARD: "h", SOFT: "s", "space": " "}
_CLASS_CACHE = 65536


class _Classes(dict[int, str]):
    """Code point -> the letter of its class, filled on first sight, for ``str.translate``.

    Translating a message into one letter per character lets a regular
    expression find its words and punctuation runs, instead of a Python loop
    over every character.
    """

    def __missing__(self, code: int) -> str:
        if len(self) > _CLASS_CACHE:
            self.clear()  # someone sent much of Unicode: start again rather than grow
        letter = self[code] = _CLASS_LETTERS[_char_class(chr(code))]
        return letter


_CLASSES = _Classes()
# A word, a CJK character, or a run of punctuation with nothing but spaces between its marks.
_RUNS = re.compile(r"w+|c|[hs](?: *[hs])*")


def _boundary(marks: str, start: int) -> tuple[str, int, int]:
    """Return the one token a run of punctuation makes: a sentence end outweighs a comma."""
    if "h" in marks:
        # The token reaches to its last sentence end; commas after that add nothing.
        return HARD, start, start + marks.rfind("h") + 1
    return SOFT, start, start + 1


# French elision: "l'avocat", "qu'il", "d'aller" are two words each.
_ELISION = re.compile(r"(?i)^(qu|jusqu|lorsqu|puisqu|[cdjlmnst])['\u2019\u02bc](?=\w)")


def _add_word(tokens: list[tuple[str, int, int]], word: str, start: int) -> None:
    elided = _ELISION.match(word)
    if elided:
        cut = elided.end()
        tokens.append((word[:cut], start, start + cut))
        word, start = word[cut:], start + cut
    tokens.append((word, start, start + len(word)))


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """Split text into raw tokens (word, CJK character or boundary) with their offsets."""
    classes = text.translate(_CLASSES)
    tokens: list[tuple[str, int, int]] = []
    for run in _RUNS.finditer(classes):
        start, end = run.span()
        kind = classes[start]
        if kind == "w":
            _add_word(tokens, text[start:end], start)
        elif kind == "c":
            tokens.append((text[start], start, end))
        else:
            tokens.append(_boundary(run.group(), start))
    return tokens


def canonical(words: Sequence[str]) -> Canonical:
    """Return the canonical string of folded words."""
    if not words:
        return Canonical(b"", (0,))
    # One join and one encode; the offsets from the words' UTF-8 lengths, plus two spaces each.
    data = f" {'  '.join(words)} ".encode()
    sizes = map(len, words) if data.isascii() else map(len, map(str.encode, words))
    return Canonical(data, tuple(accumulate(map(add, sizes, repeat(2)), initial=0)))


@functools.lru_cache(maxsize=65536)
def _fold_word(raw: str) -> tuple[tuple[str, str], ...]:
    """Fold one raw word into (folded, diacritic-free) tokens; words repeat, so cache."""
    pieces = []
    for folded in fold_token(raw):
        # NFKC may turn one character into letters of another class (a
        # full-width letter, a circled digit): re-split what folding produced.
        for piece, _, _ in tokenize(folded) or [(folded, 0, 0)]:
            if len(piece) > MAX_TOKEN:
                piece = LONG_TOKEN
            if piece not in BOUNDARIES:
                pieces.append((piece, strip_diacritics(piece)))
    return tuple(pieces)


@functools.lru_cache(maxsize=65536)
def _word_pieces(raw: str) -> tuple[tuple[str, str, int, int], ...]:
    """Return the tokens one written word makes: (folded, diacritic-free, start, end in it)."""
    split: list[tuple[str, int, int]] = []
    _add_word(split, raw, 0)
    return tuple(
        (piece, bare, start, end) for word, start, end in split for piece, bare in _fold_word(word)
    )


def fold_token(raw: str) -> list[str]:
    """Fold one raw token; folding can split it (NFKC of a ligature stays one token)."""
    folded = fold(raw).strip("'-_")
    return [folded] if folded else []


@functools.lru_cache(maxsize=65536)
def _word_tokens(text: str) -> tuple[str, ...]:
    tokens: list[str] = []
    for raw, _, _ in tokenize(text):
        if raw in BOUNDARIES:
            tokens.append(raw)
        else:
            tokens.extend(piece for piece, _ in _fold_word(raw))
    return tuple(tokens)


def word_tokens(text: str) -> list[str]:
    """Return the folded tokens of a text exactly as message normalisation makes them."""
    return list(_word_tokens(text))


def normalize(text: str) -> Normalized:
    """Normalise a message for matching."""
    classes = text.translate(_CLASSES)
    texts: list[str] = []
    bares: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for run in _RUNS.finditer(classes):
        start, end = run.span()
        if classes[start] in "wc":
            for piece, bare, low, high in _word_pieces(text[start:end]):
                texts.append(piece)
                bares.append(bare)
                starts.append(start + low)
                ends.append(start + high)
        else:
            mark, low, high = _boundary(run.group(), start)
            texts.append(mark)
            bares.append(mark)
            starts.append(low)
            ends.append(high)
    return Normalized(text, texts, bares, starts, ends)
