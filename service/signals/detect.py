"""Detect text signals in a message with the lexicon, keeping the evidence.

For every lexicon file (one signal in one language) the message is scanned
once with all its phrases; each match is dropped when it overlaps an
exclusion (``the killer feature``) or when a negation cue stands within the
file's window before or after it with no sentence end between
(``I'm not going to sue anyone``).  The first match that survives becomes the
signal, with the language, the span of the original text and the phrase.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from service.signals import patterns
from service.signals.lexicon import Lexicon, LexiconFile
from service.signals.normalize import BOUNDARIES, HARD, Canonical, Normalized, normalize
from service.signals.patterns import PatternError, Regex


@dataclass(frozen=True)
class Signal:
    """A signal found in a message, with the evidence for it."""

    name: str
    language: str
    evidence: str
    entry: str
    source: str
    start: int
    end: int


def _spans(regexes: tuple[Regex, ...], canon: Canonical) -> Iterator[tuple[int, int]]:
    """Yield the (first, last) token indices of every match of each expression."""
    for regex in regexes:
        for match in regex.finditer(canon.data):
            if match.end() > match.start():
                yield canon.starts[match.start()], canon.ends[match.end()]


def _cue_spans(
    cues: tuple[tuple[Regex, int], ...], canon: Canonical
) -> Iterator[tuple[int, int, int]]:
    """Yield (first, last, window) for every match of each negation cue."""
    for regex, window in cues:
        for first, last in _spans((regex,), canon):
            yield first, last, window


def _blocked(norm: Normalized, low: int, high: int, cross_commas: bool) -> bool:
    """Tell whether a sentence end (or, unless allowed, a comma) lies in tokens low..high-1."""
    blocking = {HARD} if cross_commas else BOUNDARIES
    return any(norm.tokens[i].text in blocking for i in range(low, high))


MAX_WINDOW = 5  # the schema's limit on negation windows


@dataclass
class _Cues:
    """The negation cues and exclusions of one file in one message, found once and indexed.

    Each candidate match then looks only at the few tokens around it, so a
    long message with many candidates stays linear.
    """

    before: dict[int, list[tuple[int, int]]]  # last token of a cue -> (first token, window)
    after: dict[int, list[tuple[int, int]]]  # first token of a cue -> (last token, window)
    excluded: set[int]  # tokens covered by an exclusion

    @classmethod
    def find(cls, lex: LexiconFile, canon: Canonical) -> _Cues:
        before: dict[int, list[tuple[int, int]]] = {}
        for first, last, window in _cue_spans(lex.before, canon):
            before.setdefault(last, []).append((first, window))
        after: dict[int, list[tuple[int, int]]] = {}
        for first, last, window in _cue_spans(lex.after, canon):
            after.setdefault(first, []).append((last, window))
        excluded = {i for low, high in _spans(lex.exclusions, canon) for i in range(low, high + 1)}
        return cls(before, after, excluded)


def _negated(lex: LexiconFile, norm: Normalized, cues: _Cues, first: int, last: int) -> bool:
    """Tell whether a negation cue stands just before (or after) the match.

    A cue before the match counts when it starts before it and ends at most
    the cue's ``window`` words before its first word, or on it ("не собираюсь"
    before "собираюсь судиться"); likewise after.
    """
    for cue_last in range(first - MAX_WINDOW - 1, last + 1):
        for cue_first, window in cues.before.get(cue_last, ()):
            near = cue_first < first and first - window - 1 <= cue_last
            if near and (
                cue_last >= first or not _blocked(norm, cue_last + 1, first, lex.cross_commas)
            ):
                return True
    for cue_first in range(first, last + MAX_WINDOW + 2):
        for cue_last, window in cues.after.get(cue_first, ()):
            near = cue_last > last and cue_first <= last + window + 1
            if near and (
                cue_first <= last or not _blocked(norm, last + 1, cue_first, lex.cross_commas)
            ):
                return True
    return False


def _trim(norm: Normalized, first: int, last: int) -> tuple[int, int]:
    """Drop the punctuation an anchored phrase took at its ends."""
    while first < last and norm.tokens[first].text in BOUNDARIES:
        first += 1
    while last > first and norm.tokens[last].text in BOUNDARIES:
        last -= 1
    return first, last


def scan_file(lex: LexiconFile, norm: Normalized) -> Signal | None:
    """Return the first accepted match of one lexicon file in a message."""
    canon = norm.bare if lex.bare else norm.exact
    cues: _Cues | None = None  # found once a phrase matches
    position = 0
    while (match := lex.scan.search(canon.data, position)) is not None:
        first, last = canon.starts[match.start()], canon.ends[match.end()]
        # A rejected match may hide another phrase starting inside it: resume at
        # the next token, not after the match.  Tokens and phrases have bounded
        # length, so this stays linear in the text length.
        position = canon.offsets[first + 1]
        first, last = _trim(norm, first, last)
        if cues is None:
            cues = _Cues.find(lex, canon)
        if any(i in cues.excluded for i in range(first, last + 1)):
            continue
        if _negated(lex, norm, cues, first, last):
            continue
        matched = match.group()
        entry = next((e for e in lex.phrases if e.regex.fullmatch(matched)), lex.phrases[0])
        start, end = norm.span(first, last)
        return Signal(
            name=lex.signal,
            language=lex.language,
            evidence=norm.original[start:end],
            entry=entry.pattern,
            source=f"{lex.path}:{entry.line}",
            start=start,
            end=end,
        )
    return None


# Phrase expressions per prefilter program: RE2 refuses programs past its
# memory budget, so a growing lexicon gets more programs, never none.
PREFILTER_CHUNK = 400


class Detector:
    """Detect signals with one compiled lexicon.

    Most messages carry no signal.  A few expressions made of every phrase of
    every file (for files matched with diacritics, and for files matched
    without) tell in one pass each whether any file can match at all; only
    then is each file scanned with its negations and exclusions.
    """

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self._prefilters = [
            (regex, bare)
            for bare in (False, True)
            for regex in self._combine(
                [e.source for f in lexicon.files if f.bare == bare for e in f.phrases]
            )
        ]

    @classmethod
    def _combine(cls, sources: list[str]) -> list[Regex]:
        """Compile the phrases into as few programs as RE2 accepts."""
        programs = []
        for start in range(0, len(sources), PREFILTER_CHUNK):
            chunk = sources[start : start + PREFILTER_CHUNK]
            try:
                built = patterns.build(chunk)
            except PatternError:
                if len(chunk) == 1:
                    raise
                half = len(chunk) // 2
                programs += cls._combine(chunk[:half]) + cls._combine(chunk[half:])
                continue
            if built is not None:
                programs.append(built)
        return programs

    def _may_match(self, norm: Normalized) -> bool:
        return any(
            regex.search((norm.bare if bare else norm.exact).data) is not None
            for regex, bare in self._prefilters
        )

    def detect(self, text: str | None, language: str | None = None) -> tuple[Signal, ...]:
        """Return the signals in ``text``; ``language`` narrows the lexicons searched."""
        if not text:
            return ()
        wanted = language.split("-")[0].lower() if language else None
        norm = normalize(text)
        if not self._may_match(norm):
            return ()
        found = []
        for lex in self.lexicon.files:
            if wanted and lex.language != wanted:
                continue
            signal = scan_file(lex, norm)
            if signal is not None:
                found.append(signal)
        return tuple(sorted(found, key=lambda s: (s.start, s.name, s.language)))
