"""Compiled lexicons: one signal in one language per file, phrases in one expression.

Reading and checking lexicon files is the rule set's job (``service.ruleset.lexicons``).
"""

from __future__ import annotations

from dataclasses import dataclass

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
class LexiconFile:
    """One signal in one language, compiled."""

    path: str
    signal: str
    language: str
    bare: bool  # match without diacritics
    phrases: tuple[Entry, ...]
    scan: Regex  # all phrases in one expression
    exclusions: tuple[Regex, ...]
    # Negation cues with their windows, one expression each so none hides another.
    before: tuple[tuple[Regex, int], ...]
    after: tuple[tuple[Regex, int], ...]
    cross_commas: (
        bool  # negation windows reach across commas (German: "nicht vor, Sie zu verklagen")
    )


@dataclass(frozen=True)
class Lexicon:
    """Every lexicon file of a rule set."""

    files: tuple[LexiconFile, ...]

    @property
    def languages(self) -> frozenset[str]:
        """Return the languages the lexicon covers."""
        return frozenset(f.language for f in self.files)

    @property
    def signals(self) -> frozenset[str]:
        """Return the signals the lexicon can detect."""
        return frozenset(f.signal for f in self.files)
