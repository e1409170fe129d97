"""Compiled lexicons: one signal in one language per file, phrases in one expression.

Besides the signal files, a language may have a ``cues.yaml`` (cue sets that
cancel candidates of every signal of the language: reported speech,
hypotheticals...) and a ``spelling.yaml`` (chat spellings, transliteration,
borrowed words, fuzzy matching).  Reading and checking lexicon files is the
rule set's job (``service.ruleset.lexicons``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from service.signals import patterns
from service.signals.patterns import Regex


@dataclass(frozen=True)
class Entry:
    """One phrase of a lexicon file and the expression it compiles to."""

    pattern: str
    line: int
    source: str  # the RE2 expression, to combine with others

    @property
    def regex(self) -> Regex:
        """Return the entry's own expression, compiled on first use (to name a match)."""
        return patterns.build_cached(self.source)


@dataclass(frozen=True)
class Cue:
    """A negation cue, an exclusion or a cue-set phrase, with its line and window."""

    regex: Regex
    line: int
    window: int = 0


@dataclass(frozen=True)
class LexiconFile:
    """One signal in one language, compiled."""

    path: str
    signal: str
    language: str
    bare: bool  # match without diacritics
    phrases: tuple[Entry, ...]
    scan: Regex  # all phrases in one expression
    exclusions: tuple[Cue, ...]
    # Negation cues with their windows, one expression each so none hides another.
    before: tuple[Cue, ...]
    after: tuple[Cue, ...]
    cross_commas: bool  # negation windows reach across every comma
    # A before-cue may reach across one comma into a clause holding one of these
    # words (German zu-infinitive: "Ich habe nicht vor, Sie zu verklagen").
    infinitive: tuple[Regex, ...] = ()
    infinitive_not: tuple[Regex, ...] = ()  # ...unless the clause starts with one of these
    # The whole words of the phrases (not those marked exact), which one edit may reach.
    words: frozenset[str] = frozenset()
    # Every phrase word as (text, may start earlier, may continue): what a respelled word
    # must be for a language's reading of a message to be worth scanning.
    keys: frozenset[tuple[str, bool, bool]] = frozenset()
    shouting: Shouting | None = None
    # The most tokens a phrase match spans (None: not known), so that a language's own
    # reading of a message is searched only around the words it rewrote.
    reach: int | None = None

    @functools.cached_property
    def _whole(self) -> Any:
        """Return the phrases in one RE2 set that matches whole texts (None if RE2 refuses)."""
        return patterns.build_set([entry.source for entry in self.phrases], whole=True)

    @functools.cached_property
    def cue_parts(self) -> Mapping[str, tuple[tuple[str, int, Regex, Cue | None], ...]]:
        """Return each cue expression of the file with every place it has: (part, index, cue).

        Parts are ``before``, ``after``, ``exclusions``, ``infinitive`` and
        ``infinitive_not``; a message holds few cues, so they are looked up
        by expression rather than each cue checked.
        """
        parts: dict[str, list[tuple[str, int, Regex, Cue | None]]] = {}
        for part, cues in (
            ("before", self.before),
            ("after", self.after),
            ("exclusions", self.exclusions),
        ):
            for index, cue in enumerate(cues):
                parts.setdefault(cue.regex.pattern, []).append((part, index, cue.regex, cue))
        for part, regexes in (
            ("infinitive", self.infinitive),
            ("infinitive_not", self.infinitive_not),
        ):
            for index, regex in enumerate(regexes):
                parts.setdefault(regex.pattern, []).append((part, index, regex, None))
        return {pattern: tuple(found) for pattern, found in parts.items()}

    def entry_of(self, matched: bytes) -> Entry:
        """Return the first phrase that matches all of ``matched`` (else the first phrase)."""
        whole = self._whole
        if whole is None:
            return next((e for e in self.phrases if e.regex.fullmatch(matched)), self.phrases[0])
        found = whole.Match(matched)
        return self.phrases[min(found)] if found else self.phrases[0]


@dataclass(frozen=True)
class Shouting:
    """Non-lexical cues of a file (anger): mostly capitals, or a run of exclamation marks."""

    line: int
    capitals: float | None  # share of cased letters in capitals, at least
    min_letters: int  # cased letters the message needs before capitals count
    exclamations: int | None  # a run of at least this many ! (or ！)


SCOPES = ("clause", "sentence")
POSITIONS = ("before", "after", "either")


@dataclass(frozen=True)
class CueSet:
    """Cues that cancel a candidate of the listed signals near it (``cues.yaml``)."""

    name: str
    path: str
    language: str
    bare: bool
    signals: frozenset[str]
    scope: str  # clause (no comma or sentence end between) or sentence
    position: str  # where the cue stands: before, after or either side of the candidate
    window: int | None  # at most this many words between cue and candidate; None: the scope
    cues: tuple[Cue, ...]

    @functools.cached_property
    def positions(self) -> Mapping[str, tuple[int, ...]]:
        """Return each cue expression of the set with the indices of the cues it is."""
        found: dict[str, list[int]] = {}
        for index, cue in enumerate(self.cues):
            found.setdefault(cue.regex.pattern, []).append(index)
        return {pattern: tuple(indices) for pattern, indices in found.items()}


@dataclass(frozen=True)
class Spelling:
    """How one language's lexicons read other spellings (``spelling.yaml``)."""

    path: str
    language: str
    # folded word (``stem*`` for a word beginning) -> the words it stands for, and its line
    respell: Mapping[str, tuple[tuple[str, ...], int]] = field(default_factory=dict)  # chat
    borrow: Mapping[str, tuple[tuple[str, ...], int]] = field(default_factory=dict)  # English
    # Latin letters -> this language's script, longest first, for messages typed in Latin
    transliterate: tuple[tuple[str, str], ...] = ()
    fuzzy: bool = False  # one edit on words of FUZZY_MIN letters or more


@dataclass(frozen=True)
class Lexicon:
    """Every lexicon file of a rule set."""

    files: tuple[LexiconFile, ...]
    cue_sets: tuple[CueSet, ...] = ()
    spellings: tuple[Spelling, ...] = ()

    @property
    def languages(self) -> frozenset[str]:
        """Return the languages the lexicon covers."""
        return frozenset(f.language for f in self.files)

    @property
    def signals(self) -> frozenset[str]:
        """Return the signals the lexicon can detect."""
        return frozenset(f.signal for f in self.files)
