"""Detect text signals in a message with the lexicon, keeping the evidence.

For every lexicon file (one signal in one language) the message is scanned
once with all its phrases; each match is a *candidate*, dropped when it
overlaps an exclusion (``the killer feature``), when a negation cue stands
within the file's window before or after it with no sentence end between
(``I'm not going to sue anyone``), or when a cue set of its language
(``cues.yaml``: reported speech, hypotheticals, legal questions...) stands in
the same clause or sentence.  The first candidate that survives becomes the
signal, with the language, the span of the original text and the phrase.

A language's ``spelling.yaml`` makes a variant of the message for that
language's files only: chat spellings and borrowed words rewritten, Latin
letters transliterated, and a word of six letters or more one edit away from
a lexicon word corrected.  Every rewrite inside a match shows in its evidence.

What it costs: the variant is made only when some rewritten word is one a
phrase of the language may match, and searched only within a phrase's reach
of its rewritten words; cues are found left to right only as far as the
candidates judged need them, and only those an RE2 set saw in the text.
"""

from __future__ import annotations

import functools
import itertools
import re
import sys
from bisect import bisect_right, insort
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from operator import itemgetter
from typing import Any, TypeVar

import re2

from service.signals import patterns
from service.signals.lexicon import Cue, CueSet, Lexicon, LexiconFile, Spelling
from service.signals.model import Finding, Model
from service.signals.normalize import (
    BOUNDARIES,
    HARD,
    SOFT,
    Canonical,
    Normalized,
    is_cjk,
    normalize,
    strip_diacritics,
)
from service.signals.patterns import MIN_STEM, PatternError, Regex

# What a detector may leave out, for measuring what each mechanism costs and finds.
MECHANISMS = ("cues", "infinitive", "respell", "transliterate", "fuzzy", "borrowings", "model")


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
    edits: tuple[str, ...] = ()  # spelling rewrites inside the match ("manger→manager")


@dataclass(frozen=True)
class Cancelled:
    """A candidate match that something cancelled, and what did (for explain=full)."""

    name: str
    language: str
    evidence: str
    entry: str
    source: str
    start: int
    end: int
    by: str  # "negation", "exclusion" or "cue set <name>"
    cue_source: str  # file:line of the cue that cancelled it


_END = sys.maxsize
_FIRST = itemgetter(0)


class _Chain:
    """The matches of one expression in one reading, found left to right only as far as asked.

    They are the matches ``finditer`` gives over the whole text (none
    overlapping another), but a scan that accepts an early candidate of a
    long message never pays for the rest of it.
    """

    def __init__(self, regex: Regex, canon: Canonical) -> None:
        self.canon = canon
        self.spans: list[tuple[int, int]] = []  # (first, last) token of each non-empty match
        self._regex = regex
        self._matches: Iterator[Any] | None = None  # started on the first pull
        self._until = -1  # every match starting at or before this byte offset is in spans

    def _pull(self) -> None:
        if self._matches is None:
            self._matches = self._regex.finditer(self.canon.data)
        match = next(self._matches, None)
        if match is None:
            self._until = _END
            return
        start, end = match.span()
        if end > start:
            self.spans.append((self.canon.first(start), self.canon.last(end)))
        self._until = start

    def upto(self, token: int) -> list[tuple[int, int]]:
        """Return the matches found so far, which include every one starting by ``token``."""
        offsets = self.canon.offsets
        limit = offsets[max(token, 0)] if token < len(offsets) - 1 else _END
        while self._until < limit:
            self._pull()
        return self.spans

    def any(self) -> bool:
        """Tell whether the expression matches anywhere in the reading."""
        while not self.spans and self._until < _END:
            self._pull()
        return bool(self.spans)


def _units(norm: Normalized) -> tuple[list[int], list[int]]:
    """Number each token's clause and sentence, so "same clause" is one comparison."""
    texts = norm.texts
    sentence = list(itertools.accumulate(map(int, map(HARD.__eq__, texts))))
    clause = list(itertools.accumulate(map(int, map(BOUNDARIES.__contains__, texts))))
    return clause, sentence


class _Reading:
    """One reading of a message (as written, or a language's own), and what its scans share."""

    def __init__(self, norm: Normalized) -> None:
        self.norm = norm
        self._chains: dict[tuple[str, bool], _Chain] = {}
        self._units: tuple[list[int], list[int]] | None = None

    def chain(self, regex: Regex, bare: bool) -> _Chain:
        """Return the matches of an expression here; files and languages share the same ones."""
        key = (regex.pattern, bare)
        found = self._chains.get(key)
        if found is None:
            found = self._chains[key] = _Chain(regex, self.norm.bare if bare else self.norm.exact)
        return found

    def units(self) -> tuple[list[int], list[int]]:
        """Return the clause and sentence number of every token."""
        if self._units is None:
            self._units = _units(self.norm)
        return self._units


def _blocked(norm: Normalized, low: int, high: int, cross_commas: bool) -> bool:
    """Tell whether a sentence end (or, unless allowed, a comma) lies in tokens low..high-1."""
    blocking = {HARD} if cross_commas else BOUNDARIES
    texts = norm.texts
    return any(texts[i] in blocking for i in range(low, high))


MAX_WINDOW = 5  # the schema's limit on negation windows
# Words from a comma to a match a German zu-infinitive clause may hold ("Sie jemals zu verklagen").
INFINITIVE_REACH = 6
INFINITIVE_WINDOW = 1  # words from a cue to that comma ("keine Absicht mehr, ...")


class _Cues:
    """The negation cues and exclusions of one file in one reading, indexed as far as needed.

    Each candidate match then looks only at the few tokens around it, so a
    long message with many candidates stays linear; cues are looked for only
    up to the candidate judged, and only those an RE2 set saw in the text.
    """

    def __init__(self, lex: LexiconFile, message: _Message, infinitive: bool) -> None:
        present = message.present(lex.bare)
        reading = message.reading
        parts = lex.cue_parts
        self._feeds: list[list[Any]] = []  # [part, index, cue, chain, matches indexed]
        marks: list[list[Any]] = []
        unmarks: list[list[Any]] = []
        for places in (
            parts.values() if present is None else (parts[p] for p in present if p in parts)
        ):
            for part, k, regex, cue in places:
                feed = [part, k, cue, reading.chain(regex, lex.bare), 0]
                if part == "infinitive":
                    marks.append(feed)
                elif part == "infinitive_not":
                    unmarks.append(feed)
                else:
                    self._feeds.append(feed)
        # Whether any zu-infinitive marker occurs at all widens where a negation cue may stand.
        self.infinitive = infinitive and any(feed[3].any() for feed in marks)
        if self.infinitive:
            self._feeds += marks + unmarks
        self.before: dict[int, list[tuple[int, int, Cue]]] = {}  # last token -> (k, first, cue)
        self.after: dict[int, list[tuple[int, int, Cue]]] = {}  # first token -> (k, last, cue)
        self.excluded: dict[int, tuple[int, Cue]] = {}  # token -> the first exclusion over it
        self.marks: set[int] = set()  # tokens of a word that marks a zu-infinitive clause
        self.unmarks: set[int] = set()  # first tokens of words that keep a clause from being one
        self._reached = -1

    def upto(self, token: int) -> None:
        """Index every cue that starts at or before ``token``."""
        if token <= self._reached:
            return
        self._reached = token
        for feed in self._feeds:
            kind, k, cue, chain, taken = feed
            spans = chain.upto(token)
            for first, last in spans[taken:]:
                if kind == "before":
                    _insert(self.before, last, (k, first, cue))
                elif kind == "after":
                    _insert(self.after, first, (k, last, cue))
                elif kind == "exclusions":
                    for i in range(first, last + 1):
                        # The first exclusion in file order that covers a token names it.
                        if i not in self.excluded or k < self.excluded[i][0]:
                            self.excluded[i] = (k, cue)
                elif kind == "infinitive":
                    self.marks.update(range(first, last + 1))
                else:
                    self.unmarks.add(first)
            feed[4] = len(spans)


def _insert(
    index: dict[int, list[tuple[int, int, Cue]]], key: int, item: tuple[int, int, Cue]
) -> None:
    """Add an item under a key, the items of a key kept in cue order (their first field)."""
    insort(index.setdefault(key, []), item, key=_FIRST)


def _into_infinitive(
    norm: Normalized, cues: _Cues, cue_last: int, window: int, first: int, last: int
) -> bool:
    """Tell whether a cue reaches a match across one comma into a zu-infinitive clause.

    "Ich habe nicht vor, Sie zu verklagen": the cue ends at most one word
    before the comma (the cue's own window if smaller), the match lies at
    most INFINITIVE_REACH words after it, a marker word (``zu``) stands
    between the comma and the match's end, and the clause does not start
    with a word that makes it something else ("keine Wahl, als Sie zu ...").
    """
    texts = norm.texts
    commas = [i for i in range(cue_last + 1, first) if texts[i] in BOUNDARIES]
    if len(commas) != 1 or texts[commas[0]] != SOFT:
        return False
    comma = commas[0]
    return (
        comma - min(window, INFINITIVE_WINDOW) - 1 <= cue_last
        and first - comma - 1 <= INFINITIVE_REACH
        and comma + 1 not in cues.unmarks
        and any(i in cues.marks for i in _verb_end(norm, max(comma + 1, last - 1), last))
    )


def _verb_end(norm: Normalized, low: int, last: int) -> Iterator[int]:
    """Yield the tokens where a zu-infinitive may stand: the match's end and two words on.

    "Sie zu verklagen" ends the match with the verb; "mit dem Anwalt zu
    drohen" follows it; "bringen Sie mich zu Ihrem Chef" holds a "zu" that
    is no infinitive, further from the end.
    """
    yield from range(low, last + 1)
    texts = norm.texts
    for i in range(last + 1, min(last + 3, len(texts))):
        if texts[i] in BOUNDARIES:
            return
        yield i


def _negated(lex: LexiconFile, norm: Normalized, cues: _Cues, first: int, last: int) -> Cue | None:
    """Return the negation cue that stands just before (or after) the match, if any.

    A cue before the match counts when it starts before it and ends at most
    the cue's ``window`` words before its first word, or on it ("не собираюсь"
    before "собираюсь судиться"); likewise after.
    """
    cues.upto(last + MAX_WINDOW + 1)
    reach = MAX_WINDOW + 1 + (INFINITIVE_REACH + 1 if cues.infinitive else 0)
    for cue_last in range(first - reach, last + 1):
        for _, cue_first, cue in cues.before.get(cue_last, ()):
            if cue_first >= first:
                continue
            if cue_last >= first:
                return cue
            if first - cue.window - 1 <= cue_last and not _blocked(
                norm, cue_last + 1, first, lex.cross_commas
            ):
                return cue
            if cues.infinitive and _into_infinitive(norm, cues, cue_last, cue.window, first, last):
                return cue
    for cue_first in range(first, last + MAX_WINDOW + 2):
        for _, cue_last, cue in cues.after.get(cue_first, ()):
            near = cue_last > last and cue_first <= last + cue.window + 1
            if near and (
                cue_first <= last or not _blocked(norm, last + 1, cue_first, lex.cross_commas)
            ):
                return cue
    return None


class _SetIndex:
    """Where one cue set's cues stand in one reading, per clause or sentence, as far as needed."""

    def __init__(self, cue_set: CueSet, reading: _Reading, present: list[int]) -> None:
        self.cue_set = cue_set
        self.norm = reading.norm
        clause, sentence = reading.units()
        self.unit = clause if cue_set.scope == "clause" else sentence
        self._feeds: list[list[Any]] = [
            [k, cue_set.cues[i], reading.chain(cue_set.cues[i].regex, cue_set.bare), 0]
            for k, i in enumerate(present)
        ]
        self.earliest: dict[int, tuple[int, int, Cue]] = {}  # unit -> (first start, k, cue)
        self.latest: dict[int, tuple[int, int, Cue]] = {}  # unit -> (last end, -k, cue)
        self.by_last: dict[int, list[tuple[int, int, Cue]]] = {}  # last -> (k, first, cue)
        self.by_first: dict[int, list[tuple[int, int, Cue]]] = {}  # first -> (k, last, cue)
        self._reached = -1

    def upto(self, token: int) -> None:
        """Index every cue of the set that starts at or before ``token``."""
        if token <= self._reached:
            return
        self._reached = token
        unit, earliest, latest = self.unit, self.earliest, self.latest
        for feed in self._feeds:
            k, cue, chain, taken = feed
            spans = chain.upto(token)
            for first, last in spans[taken:]:
                first, last = _trim(self.norm, first, last)
                # Ties go to the cue listed first, as when every cue was indexed in order.
                hit = earliest.get(unit[last])
                if hit is None or (first, k) < hit[:2]:
                    earliest[unit[last]] = (first, k, cue)
                hit = latest.get(unit[first])
                if hit is None or (last, -k) > hit[:2]:
                    latest[unit[first]] = (last, -k, cue)
                _insert(self.by_last, last, (k, first, cue))
                _insert(self.by_first, first, (k, last, cue))
            feed[3] = len(spans)

    def cancels(self, first: int, last: int) -> Cue | None:
        """Return the cue that cancels a candidate spanning tokens first..last, if any."""
        position, window, unit = self.cue_set.position, self.cue_set.window, self.unit
        if position in ("before", "either"):
            if window is None:
                self.upto(first)
                hit = self.earliest.get(unit[first])
                if hit is not None and hit[0] <= first:
                    return hit[2]
            else:
                self.upto(last)
                for cue_last in range(first - window - 1, last + 1):
                    for _, cue_first, cue in self.by_last.get(cue_last, ()):
                        if cue_first <= first and unit[cue_last] == unit[first]:
                            return cue
        if position in ("after", "either"):
            if window is None:
                self.upto(bisect_right(unit, unit[last]) - 1)  # the end of the candidate's unit
                hit = self.latest.get(unit[last])
                if hit is not None and hit[0] >= last:
                    return hit[2]
            else:
                self.upto(last + window + 1)
                for cue_first in range(first, last + window + 2):
                    for _, cue_last, cue in self.by_first.get(cue_first, ()):
                        if cue_last >= last and unit[cue_first] == unit[last]:
                            return cue
        return None


def _trim(norm: Normalized, first: int, last: int) -> tuple[int, int]:
    """Drop the punctuation an anchored phrase took at its ends."""
    texts = norm.texts
    while first < last and texts[first] in BOUNDARIES:
        first += 1
    while last > first and texts[last] in BOUNDARIES:
        last -= 1
    return first, last


_Owner = TypeVar("_Owner")


def _compile_sets(entries: list[tuple[_Owner, str]], chunk: int) -> list[tuple[Any, list[_Owner]]]:
    """Compile expressions into RE2 sets of at most ``chunk``, halving any RE2 refuses."""
    compiled: list[tuple[Any, list[_Owner]]] = []
    for start in range(0, len(entries), chunk):
        part = entries[start : start + chunk]
        one = re2.Set.SearchSet(patterns.options())
        try:
            for _, source in part:
                if one.Add(source) < 0:
                    raise re2.error(f"cannot add {source!r}")
            one.Compile()
        except (re2.error, RuntimeError, ValueError):
            if len(part) == 1:
                raise
            half = len(part) // 2
            compiled += _compile_sets(part[:half], half) + _compile_sets(part[half:], half)
            continue
        compiled.append((one, [owner for owner, _ in part]))
    return compiled


class _CueFinder:
    """Every cue of one language (files' and cue sets') in RE2 sets: which occur, in one pass."""

    def __init__(self, files: Sequence[LexiconFile], cue_sets: Sequence[CueSet]) -> None:
        by_bare: dict[bool, dict[str, None]] = {False: {}, True: {}}
        for lex in files:
            for regex in (
                *(cue.regex for cue in (*lex.before, *lex.after, *lex.exclusions)),
                *lex.infinitive,
                *lex.infinitive_not,
            ):
                by_bare[lex.bare][regex.pattern] = None
        for cue_set in cue_sets:
            for cue in cue_set.cues:
                by_bare[cue_set.bare][cue.regex.pattern] = None
        self.sets = {
            bare: _compile_sets([(p, p) for p in found], PREFILTER_CHUNK)
            for bare, found in by_bare.items()
        }

    def present(self, norm: Normalized, bare: bool) -> frozenset[str]:
        """Return the cue expressions that occur in a reading (as written or diacritic-free)."""
        if not self.sets[bare]:
            return frozenset()
        data = (norm.bare if bare else norm.exact).data
        found: set[str] = set()
        for compiled, owners in self.sets[bare]:
            hits = compiled.Match(data)
            if hits:
                found.update(owners[i] for i in hits)
            elif len(data) > LONG_TEXT:
                found.update(owners)  # a set's DFA may give up on a long text: look for each
        return frozenset(found)


@dataclass
class _Message:
    """One reading of a message as one language's files see it, with its cues found on demand."""

    reading: _Reading
    cue_sets: tuple[CueSet, ...]
    edits: Mapping[int, str]  # token index -> the rewrite that made it
    use_infinitive: bool = True
    finder: _CueFinder | None = None  # which cues occur at all, in one pass
    # Where candidates may start, (first, last, end) tokens: a match that starts in
    # first..last ends by token end.  None: anywhere (the text as written).
    windows: list[tuple[int, int, int]] | None = None
    _present: dict[bool, frozenset[str] | None] = field(default_factory=dict)
    _sets: list[_SetIndex] | None = None

    @property
    def norm(self) -> Normalized:
        """Return the tokens of the reading."""
        return self.reading.norm

    def present(self, bare: bool) -> frozenset[str] | None:
        """Return the cue expressions that occur in the reading (None: look for every one)."""
        if self.finder is None:
            return None
        if bare not in self._present:
            self._present[bare] = self.finder.present(self.norm, bare)
        return self._present[bare]

    def cancelling_set(self, signal: str, first: int, last: int) -> tuple[CueSet, Cue] | None:
        if not self.cue_sets:
            return None
        if self._sets is None:
            self._sets = []
            for cue_set in self.cue_sets:
                present = self.present(cue_set.bare)
                if present is None:
                    found = list(range(len(cue_set.cues)))
                elif present:
                    positions = cue_set.positions
                    found = sorted(i for p in present if p in positions for i in positions[p])
                else:
                    continue  # no cue of the language occurs in the message (most messages)
                if found:
                    self._sets.append(_SetIndex(cue_set, self.reading, found))
        for index in self._sets:
            if signal in index.cue_set.signals:
                cue = index.cancels(first, last)
                if cue is not None:
                    return index.cue_set, cue
        return None


def _candidates(
    lex: LexiconFile, canon: Canonical, windows: list[tuple[int, int, int]] | None
) -> Iterator[tuple[Any, int]]:
    """Yield each phrase match and its first token, one per token where a match starts.

    A rejected match may hide another phrase starting inside it: the search
    resumes at the next token, not after the match.  Tokens and phrases have
    bounded length, so this stays linear in the text length.  With windows,
    only matches starting inside them are wanted: each search stops where
    the last match starting in its window must end.
    """
    data, offsets = canon.data, canon.offsets
    if windows is None:
        position = 0
        while (match := lex.scan.search(data, position)) is not None:
            first = canon.first(match.start())
            yield match, first
            position = offsets[first + 1]
        return
    for low, high, stop in windows:
        position, limit, end = offsets[low], offsets[high], offsets[stop]
        while (match := lex.scan.search(data, position, end)) is not None:
            if match.start() > limit:
                break
            first = canon.first(match.start())
            yield match, first
            position = offsets[first + 1]


def scan_file(
    lex: LexiconFile,
    message: _Message | Normalized,
    cancelled: list[Cancelled] | None = None,
    claimed: set[int] | None = None,
) -> Signal | None:
    """Return the first accepted match of one lexicon file in a message.

    With ``cancelled``, every candidate dropped before it is added there.  In a
    language's own reading of the message, ``claimed`` holds the spans where
    the text as written had candidates (their characters): those are not read
    again (a Polish "kurwa" cancelled as self-directed is no Bulgarian
    "курва"); as written, each candidate's characters are added to it.
    """
    if isinstance(message, Normalized):
        message = _Message(_Reading(message), (), {})
    norm = message.norm
    canon = norm.bare if lex.bare else norm.exact
    cues: _Cues | None = None  # found once a candidate needs judging
    for match, first in _candidates(lex, canon, message.windows):
        first, last = _trim(norm, first, canon.last(match.end()))
        edits: tuple[str, ...] = ()
        if message.edits:
            edits = tuple(
                dict.fromkeys(
                    message.edits[i] for i in range(first, last + 1) if i in message.edits
                )
            )
            if not edits:
                # A language's own reading adds only matches its rewrites made; the rest the
                # text as written has already had judged (its cues may have been rewritten).
                continue
        start, end = norm.span(first, last)
        if claimed is not None:
            if message.edits:
                if any(i in claimed for i in range(start, end)):
                    continue
            else:
                claimed.update(range(start, end))
        if cues is None:
            cues = _Cues(lex, message, message.use_infinitive and bool(lex.infinitive))
        why = _why(lex, message, cues, first, last)
        if why is not None and cancelled is None:
            continue
        entry = lex.entry_of(match.group())
        if why is not None and cancelled is not None:
            cancelled.append(
                Cancelled(
                    lex.signal,
                    lex.language,
                    norm.original[start:end],
                    entry.pattern,
                    f"{lex.path}:{entry.line}",
                    start,
                    end,
                    why[0],
                    why[1],
                )
            )
            continue
        return Signal(
            name=lex.signal,
            language=lex.language,
            evidence=norm.original[start:end],
            entry=entry.pattern,
            source=f"{lex.path}:{entry.line}",
            start=start,
            end=end,
            edits=edits,
        )
    return None


def _why(
    lex: LexiconFile, message: _Message, cues: _Cues, first: int, last: int
) -> tuple[str, str] | None:
    """Return what cancels a candidate (how, and the cue's file:line), or None."""
    cues.upto(last)
    excluded = next(
        (cues.excluded[i][1] for i in range(first, last + 1) if i in cues.excluded), None
    )
    if excluded is not None:
        return "exclusion", f"{lex.path}:{excluded.line}"
    if (negation := _negated(lex, message.norm, cues, first, last)) is not None:
        return "negation", f"{lex.path}:{negation.line}"
    if (hit := message.cancelling_set(lex.signal, first, last)) is not None:
        return f"cue set {hit[0].name}", f"{hit[0].path}:{hit[1].line}"
    return None


# Expressions per prefilter program or set: RE2 refuses programs past its memory
# budget, so a growing lexicon gets more programs, never none; and a set's DFA
# stays small enough to keep up with long texts.
PREFILTER_CHUNK = 100
WIDE_CHUNK = 400  # for texts of at most LONG_TEXT bytes
FUZZY_MIN = 6  # letters a word needs before one edit may correct it
TRIGGER = 3  # letters a rewritten word needs to make a language's reading worth scanning
_WORD_CACHE = 65536


_bare = functools.lru_cache(maxsize=_WORD_CACHE)(strip_diacritics)
_UNKNOWN = object()


def _deletions(word: str) -> Iterator[str]:
    for i in range(len(word)):
        yield word[:i] + word[i + 1 :]


KEPT_ENDING = 2  # last letters an edit never touches: inflections differ there, typos rarely


def one_edit(a: str, b: str) -> bool:
    """Tell whether ``a`` becomes ``b`` by one insertion, deletion, substitution or swap.

    The edit must fall before the last KEPT_ENDING letters: "manger" is a
    typo of "manager", but "managed" and "говорих" are other words.
    """
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    if i >= min(len(a), len(b)) - KEPT_ENDING:
        return False
    if len(a) == len(b):
        return a[i + 1 :] == b[i + 1 :] or (
            a[i + 2 :] == b[i + 2 :] and a[i : i + 2] == b[i : i + 2][::-1]
        )
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return longer[i + 1 :] == shorter[i:]


@dataclass
class _Speller:
    """One language's rewrites: chat spellings, borrowings, transliteration, one-edit fixes."""

    spelling: Spelling
    vocabulary: dict[str, str]  # diacritic-free lexicon word -> the word
    deleted: dict[str, list[str]]  # a vocabulary word with one letter deleted -> such words
    off: frozenset[str]
    whole: frozenset[str]  # phrase words, diacritic-free
    starts: frozenset[str]  # stems a phrase word begins with (kierowni*)
    ends: frozenset[str]  # stems a phrase word ends with (*anwalt)
    inside: tuple[str, ...]  # stems a phrase word contains (*anwalt*)
    cache: dict[str, object] = field(default_factory=dict)
    useful: dict[str, bool] = field(default_factory=dict)
    stem_sizes: tuple[int, ...] = ()  # lengths of the "stem*" keys, longest first

    def __post_init__(self) -> None:
        tables = (*self.spelling.respell, *self.spelling.borrow)
        self.stem_sizes = tuple(
            sorted({len(k) - 1 for k in tables if k.endswith("*")}, reverse=True)
        )

    @classmethod
    def build(
        cls,
        spelling: Spelling,
        words: set[str],
        keys: set[tuple[str, bool, bool]],
        off: frozenset[str],
    ) -> _Speller:
        vocabulary = {strip_diacritics(w): w for w in sorted(words) if len(w) >= FUZZY_MIN}
        deleted: dict[str, list[str]] = {}
        for bare in vocabulary:
            for variant in _deletions(bare):
                deleted.setdefault(variant, []).append(bare)
        # Words shorter than TRIGGER letters ("и", "в", "на") make no reading worth scanning.
        keys = {
            (strip_diacritics(t), p, s) for t, p, s in keys if len(t) >= TRIGGER or is_cjk(t[0])
        }
        return cls(
            spelling,
            vocabulary,
            deleted,
            off,
            whole=frozenset(t for t, p, s in keys if not p and not s),
            starts=frozenset(t for t, p, s in keys if s and not p),
            ends=frozenset(t for t, p, s in keys if p and not s),
            inside=tuple(sorted(t for t, p, s in keys if p and s)),
        )

    def matters(self, word: str) -> bool:
        """Tell whether a rewritten word is one some phrase of the language may match."""
        found = self.useful.get(word)
        if found is None:
            bare = strip_diacritics(word)
            found = (
                bare in self.whole
                or any(bare[:n] in self.starts for n in range(MIN_STEM, len(bare) + 1))
                or any(bare[-n:] in self.ends for n in range(MIN_STEM, len(bare) + 1))
                or any(stem in bare for stem in self.inside)
            )
            if len(self.useful) > _WORD_CACHE:
                self.useful.clear()
            self.useful[word] = found
        return found

    def _fix(self, bare: str) -> str | None:
        if bare in self.vocabulary or len(bare) < FUZZY_MIN or not bare.isalpha():
            return None
        # Symmetric deletions: a letter left out, one too many, one replaced or two swapped.
        candidates = set(self.deleted.get(bare, ()))
        for shorter in _deletions(bare):
            if shorter in self.vocabulary:
                candidates.add(shorter)
            candidates.update(self.deleted.get(shorter, ()))
        found = sorted(w for w in candidates if one_edit(bare, w))
        return self.vocabulary[found[0]] if len(found) == 1 else None

    def rewrite(self, text: str) -> tuple[tuple[str, ...], str, bool] | None:
        """Return the words a token stands for in this language, a note, and whether it matters.

        It matters when some phrase of the language may match one of the words.
        """
        found = self.cache.get(text, _UNKNOWN)
        if found is _UNKNOWN:
            rewritten = None if text in BOUNDARIES else self._rewrite(text, _bare(text))
            found = (
                None if rewritten is None else (*rewritten, any(map(self.matters, rewritten[0])))
            )
            if len(self.cache) > _WORD_CACHE:
                self.cache.clear()
            self.cache[text] = found
        return found  # type: ignore[return-value]

    def _rewrite(self, text: str, bare: str) -> tuple[tuple[str, ...], str] | None:
        spelling = self.spelling
        for kind, table in (("respell", spelling.respell), ("borrowings", spelling.borrow)):
            if kind in self.off:
                continue
            hit = table.get(text)
            if hit is None:
                for size in self.stem_sizes:
                    hit = table.get(text[:size] + "*") if size <= len(text) else None
                    if hit is not None:
                        break
            if hit is not None:
                note = "chat spelling" if kind == "respell" else "borrowed word"
                return hit[0], f"{text}→{_joined(hit[0])} ({note})"
        if spelling.transliterate and "transliterate" not in self.off and _latin(text):
            script = _transliterate(text, spelling.transliterate)
            if script != text:
                return (script,), f"{text}→{script} (transliterated)"
        if spelling.fuzzy and "fuzzy" not in self.off:
            fixed = self._fix(bare)
            if fixed is not None:
                return (fixed,), f"{text}→{fixed} (one edit)"
        return None


UNDETERMINED = "und"  # ISO 639-2: a shouted message's language, with no hint and no other signal


def _modelled(finding: Finding, text: str, language: str, model_file: str) -> Signal:
    """Return a signal the model found, with its strongest feature as the evidence.

    The span is the feature's first place in the text, widened to whole words;
    where lower-casing changes the text's length, the whole message.
    """
    word = finding.feature.startswith("w:")
    feature = finding.feature[2:] if word else finding.feature.strip()
    low = text.lower()
    start, end = 0, len(text)
    if len(low) == len(text):
        if word:
            words = r"\s+".join(re.escape(w) for w in feature.split())
            hit = re.search(rf"(?<!\w){words}(?!\w)", low)
            if hit is not None:
                start, end = hit.span()
        elif (at := low.find(feature)) >= 0:
            start, end = at, at + len(feature)
            while start > 0 and not low[start - 1].isspace():
                start -= 1
            while end < len(low) and not low[end].isspace():
                end += 1
    return Signal(
        name=finding.name,
        language=language,
        evidence=text[start:end],
        entry=f"model ({finding.score:.2f}): {feature}",
        source=f"{model_file}:{finding.line}",
        start=start,
        end=end,
    )


def shouted(lex: LexiconFile, text: str) -> Signal | None:
    """Return the file's signal when the text shouts: a run of "!!!" or mostly capitals."""
    shouting = lex.shouting
    if shouting is None:
        return None
    source = f"{lex.path}:{shouting.line}"
    if shouting.exclamations is not None and (
        "!" * shouting.exclamations in text or "\uff01" * shouting.exclamations in text
    ):
        run = re.search(f"[!\uff01]{{{shouting.exclamations},}}", text)
        if run is not None:
            entry = f"shouting: {shouting.exclamations} or more exclamation marks"
            return Signal(lex.signal, lex.language, run.group(), entry, source, *run.span())
    if shouting.capitals is not None and len(text) >= shouting.min_letters:
        upper = sum(map(str.isupper, text))
        letters = upper + sum(map(str.islower, text))
        if letters >= shouting.min_letters and upper >= shouting.capitals * letters:
            first = next(i for i, ch in enumerate(text) if ch.isupper())
            last = len(text) - 1 - next(i for i, ch in enumerate(reversed(text)) if ch.isupper())
            entry = f"shouting: {round(shouting.capitals * 100)}% or more capitals"
            return Signal(
                lex.signal, lex.language, text[first : last + 1], entry, source, first, last + 1
            )
    return None


def _joined(words: tuple[str, ...]) -> str:
    """Write words as text: Chinese characters without spaces between them."""
    return "".join(
        ("" if i == 0 or (is_cjk(w[0]) and is_cjk(words[i - 1][-1])) else " ") + w
        for i, w in enumerate(words)
    )


def _latin(text: str) -> bool:
    return text.isascii() and any(ch.isalpha() for ch in text)


def _transliterate(text: str, table: tuple[tuple[str, str], ...]) -> str:
    """Rewrite Latin letters (and Arabizi digits) longest sequence first, left to right.

    A source written ``^x`` applies only at the start of the word, ``x$`` only
    at its end (Arabizi writes a long vowel there, and leaves short ones out).
    """
    out: list[str] = []
    i = 0
    while i < len(text):
        for source, target in table:
            key = source.lstrip("^").rstrip("$")
            if (
                key
                and text.startswith(key, i)
                and (not source.startswith("^") or i == 0)
                and (not source.endswith("$") or i + len(key) == len(text))
            ):
                out.append(target)
                i += len(key)
                break
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


class _FileSets:
    """Which lexicon files can match a message, in one pass per RE2 set of phrases.

    RE2 sets run on the DFA, whose memory is bounded: should a long text
    exhaust it, a set may report too few matches.  A long text with no file
    reported is therefore checked with the combined phrases (which fall back
    to the NFA) and, if anything matches, every file is scanned.
    """

    def __init__(self, files: tuple[LexiconFile, ...], indices: list[int]) -> None:
        # Small sets for long texts (a set's DFA states multiply with its phrases and
        # thrash on a long text), few wide ones for short texts (fewer calls).
        self.sets: list[tuple[Any, bool, list[int]]] = []
        self.wide: list[tuple[Any, bool, list[int]]] = []
        self.everything = list(indices)
        self.kinds = tuple(sorted({files[i].bare for i in indices}))  # with diacritics, without
        for bare in (False, True):
            entries = [
                (i, e.source) for i in indices if files[i].bare == bare for e in files[i].phrases
            ]
            for family, chunk in ((self.sets, PREFILTER_CHUNK), (self.wide, WIDE_CHUNK)):
                family += [
                    (compiled, bare, owners) for compiled, owners in _compile_sets(entries, chunk)
                ]
        self.fallback = Detector.filters(tuple(files[i] for i in indices))

    def matching(self, norm: Normalized, windows: list[tuple[int, int]] | None = None) -> set[int]:
        """Return the indices of the files some phrase of which matches the message.

        With ``windows`` (token ranges), only the text inside them is looked
        at: a file reported may match only across two windows, but none that
        matches inside one is missed.
        """
        data: dict[bool, bytes] = {}
        for bare in self.kinds:
            canon = norm.bare if bare else norm.exact
            data[bare] = canon.data if windows is None else _window_data(canon, windows)
        found: set[int] = set()
        long = any(len(text) > LONG_TEXT for text in data.values())
        for compiled, bare, owners in self.sets if long else self.wide:
            hits = compiled.Match(data[bare])
            if hits:
                found.update([owners[i] for i in hits])
        if found:
            return found
        exact = data[False] if False in data else _window_data(norm.exact, windows)
        if len(exact) > LONG_TEXT and any(
            regex.search(data[bare]) is not None for regex, bare in self.fallback
        ):
            return set(self.everything)
        return found


def _window_data(canon: Canonical, windows: list[tuple[int, int]] | None) -> bytes:
    """Return the canonical string of the tokens in the windows (all of it without)."""
    if windows is None:
        return canon.data
    offsets = canon.offsets
    return b"".join(canon.data[offsets[low] : offsets[high + 1]] for low, high in windows)


def _merged(ranges: Iterator[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge token ranges, sorted by their start, that overlap or touch."""
    merged: list[tuple[int, int]] = []
    for low, high in ranges:
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


def _respelled(
    norm: Normalized, rewrites: list[tuple[int, tuple[str, ...], str]]
) -> tuple[Normalized, dict[int, str]]:
    """Return a language's reading of a message: its rewritten words in place of the written.

    Each rewrite is (token, words, note); the tokens between are the
    message's own, copied by slices.  Also returns the rewrite that made each
    new token.
    """
    texts: list[str] = []
    bares: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    edits: dict[int, str] = {}
    done = 0
    for index, words, note in rewrites:
        texts += norm.texts[done:index]
        bares += norm.bares[done:index]
        starts += norm.starts[done:index]
        ends += norm.ends[done:index]
        for word in words:
            edits[len(texts)] = note
            texts.append(word)
            bares.append(_bare(word))
            starts.append(norm.starts[index])
            ends.append(norm.ends[index])
        done = index + 1
    texts += norm.texts[done:]
    bares += norm.bares[done:]
    starts += norm.starts[done:]
    ends += norm.ends[done:]
    return Normalized(norm.original, texts, bares, starts, ends), edits


LONG_TEXT = 4096  # bytes of canonical text past which a set's silence is double-checked
_Rewrite = tuple[str, tuple[str, ...], str, bool]  # language, words, note, whether it matters


class Detector:
    """Detect signals with one compiled lexicon.

    Most messages carry no signal.  RE2 sets made of every phrase of every
    file (for files matched with diacritics, and for files matched without)
    tell in one pass each which files can match at all; only those are then
    scanned with their negations, exclusions and cue sets.  ``off`` leaves
    mechanisms out (see MECHANISMS), for the benchmark.
    """

    def __init__(
        self, lexicon: Lexicon, off: frozenset[str] = frozenset(), model: Model | None = None
    ) -> None:
        self.lexicon = lexicon
        self.off = off
        self.model = None if "model" in off else model
        files = lexicon.files
        self._sets = _FileSets(files, list(range(len(files))))
        self._shouting: dict[str, list[LexiconFile]] = {}
        once: dict[tuple[object, ...], LexiconFile] = {}
        for lex in files:
            if (shouting := lex.shouting) is not None:
                self._shouting.setdefault(lex.language, []).append(lex)
                # The same cues in another language's file need no second look.
                spec = (lex.signal, shouting.capitals, shouting.min_letters, shouting.exclamations)
                once.setdefault(spec, lex)
        self._shouting_once = list(once.values())
        self._cue_sets: dict[str, tuple[CueSet, ...]] = {}
        if "cues" not in off:
            for cue_set in lexicon.cue_sets:
                self._cue_sets.setdefault(cue_set.language, ())
                self._cue_sets[cue_set.language] += (cue_set,)
        self._finders: dict[str, _CueFinder] = {}  # per language, compiled on first use
        # The most tokens a phrase of a language spans (None: not known).
        self._reach: dict[str, int | None] = {}
        for lex in files:
            known = self._reach.get(lex.language, 1)
            self._reach[lex.language] = (
                None if known is None or lex.reach is None else max(known, lex.reach)
            )
        self._spellers: dict[str, tuple[_Speller, _FileSets]] = {}
        for spelling in lexicon.spellings:
            own = [i for i, f in enumerate(files) if f.language == spelling.language]
            words = {w for i in own for w in files[i].words}
            keys = {k for i in own for k in files[i].keys}
            self._spellers[spelling.language] = (
                _Speller.build(spelling, words, keys, off),
                _FileSets(files, own),
            )
        # Written word -> what each language's spelling makes of it: one lookup per token.
        self._rewrites: dict[str, tuple[_Rewrite, ...]] = {}

    @classmethod
    def filters(cls, files: tuple[LexiconFile, ...]) -> list[tuple[Regex, bool]]:
        """Compile the phrases of some files into as few programs as RE2 accepts."""
        return [
            (regex, bare)
            for bare in (False, True)
            for regex in cls._combine(
                [e.source for f in files if f.bare == bare for e in f.phrases]
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

    @staticmethod
    def may_match(filters: list[tuple[Regex, bool]], norm: Normalized) -> bool:
        """Tell whether any of the combined phrases matches the message."""
        return any(
            regex.search((norm.bare if bare else norm.exact).data) is not None
            for regex, bare in filters
        )

    def _finder(self, language: str) -> _CueFinder:
        """Return the cue finder of a language, compiling it on first use."""
        finder = self._finders.get(language)
        if finder is None:
            finder = self._finders[language] = _CueFinder(
                [f for f in self.lexicon.files if f.language == language],
                self._cue_sets.get(language, ()),
            )
        return finder

    def _message(self, reading: _Reading, language: str, **kwargs: Any) -> _Message:
        """Return a reading as one language's files see it."""
        return _Message(
            reading,
            self._cue_sets.get(language, ()),
            use_infinitive="infinitive" not in self.off,
            finder=self._finder(language),
            **kwargs,
        )

    def _rewritten(self, text: str) -> tuple[_Rewrite, ...]:
        """Return what each language's spelling makes of a token (most make nothing)."""
        found = self._rewrites.get(text)
        if found is None:
            found = tuple(
                (language, *hit)
                for language, (speller, _) in self._spellers.items()
                if (hit := speller.rewrite(text)) is not None
            )
            if len(self._rewrites) > _WORD_CACHE:
                self._rewrites.clear()
            self._rewrites[text] = found
        return found

    def _plan(
        self, norm: Normalized, wanted: str | None
    ) -> dict[str, list[tuple[int, tuple[str, ...], str]]]:
        """Return, per language whose reading may find more than the text as written, its rewrites.

        A reading may find more only when a rewritten word is one a phrase of
        the language may match: most Latin messages transliterate to nothing of use.
        """
        if not self._spellers:
            return {}
        rewrites: dict[str, list[tuple[int, tuple[str, ...], str]]] = {}
        useful: set[str] = set()
        known, rewritten = self._rewrites, self._rewritten
        for index, text in enumerate(norm.texts):
            found = known.get(text)
            for language, words, note, matters in rewritten(text) if found is None else found:
                rewrites.setdefault(language, []).append((index, words, note))
                if matters:
                    useful.add(language)
        return {
            language: rewrites[language]
            for language in self._spellers
            if language in useful and not (wanted and language != wanted)
        }

    def _variant(
        self,
        norm: Normalized,
        language: str,
        rewrites: list[tuple[int, tuple[str, ...], str]],
        claimed: set[int],
    ) -> tuple[_Message, set[int]] | None:
        """Return a language's reading of the message and the files it may match, if any.

        A match of the reading holds a rewritten word; where every rewritten
        word lies on a candidate of the text as written, every such match
        overlaps it and is not read again, so no reading is made.  Otherwise
        the reading is searched only within a phrase's reach of its rewritten
        words: a match elsewhere holds no rewrite.
        """
        if claimed and all(
            norm.starts[i] < norm.ends[i]
            and any(c in claimed for c in range(norm.starts[i], norm.ends[i]))
            for i, _, _ in rewrites
        ):
            return None
        _, sets = self._spellers[language]
        variant, edits = _respelled(norm, rewrites)
        reach, size = self._reach.get(language, 1), len(variant.texts)
        if reach is None:
            windows, probe = None, None
        else:
            # A match holding rewritten token e starts in e-reach+1..e and ends by e+reach.
            starts = _merged((max(e - reach + 1, 0), e) for e in edits)
            windows = [(low, high, min(high + reach, size)) for low, high in starts]
            probe = _merged((max(e - reach + 1, 0), min(e + reach - 1, size - 1)) for e in edits)
        files = sets.matching(variant, probe)
        if not files:
            return None
        message = self._message(_Reading(variant), language, edits=edits, windows=windows)
        return message, files

    def _shout(self, text: str, wanted: str | None, found: list[Signal]) -> list[Signal]:
        """Add one signal for a shouted message, unless a phrase already found that signal.

        Every language's file may say what shouting is; the first that applies
        speaks for all, so a shouted message gets one signal, in the language
        of the hint or of the other signals found (else "und").
        """
        names = {s.name for s in found}
        for lex in self._shouting.get(wanted, ()) if wanted else self._shouting_once:
            if lex.signal in names:
                continue
            signal = shouted(lex, text)
            if signal is not None:
                names.add(lex.signal)
                language = wanted or (found[0].language if found else UNDETERMINED)
                found.append(replace(signal, language=language))
        return found

    def _scan(
        self, text: str | None, language: str | None, cancelled: list[Cancelled] | None
    ) -> tuple[Signal, ...]:
        if not text:
            return ()
        wanted = language.split("-")[0].lower() if language else None
        norm = normalize(text)
        base = self._sets.matching(norm)
        rewrites = self._plan(norm, wanted)
        if not base and not rewrites:
            return tuple(self._judge(text, wanted, self._shout(text, wanted, []), ()))
        # The model may not overrule the lexicon, so it must know what the lexicon cancelled.
        if cancelled is None and self.model is not None:
            cancelled = []
        reading = _Reading(norm)
        plain: dict[str, _Message] = {}
        found: dict[int, Signal] = {}
        claimed: set[int] = set()  # characters where the text as written had candidates
        files = self.lexicon.files
        for index in sorted(base):
            lex = files[index]
            if wanted and lex.language != wanted:
                continue
            message = plain.get(lex.language)
            if message is None:
                message = plain[lex.language] = self._message(reading, lex.language, edits={})
            signal = scan_file(lex, message, cancelled, claimed)
            if signal is not None:
                found[index] = signal
        # A language's own reading of the message (respelled, transliterated) is a second
        # chance, after every file has read the text as written, and never hides it.
        # Each reading is made only now, once ``claimed`` says where it could add nothing.
        for language, language_rewrites in rewrites.items():
            made = self._variant(norm, language, language_rewrites, claimed)
            if made is None:
                continue
            variant, indices = made
            for index in sorted(indices - found.keys()):
                signal = scan_file(files[index], variant, cancelled, claimed)
                if signal is not None:
                    found[index] = signal
        signals = self._shout(text, wanted, list(found.values()))
        signals = self._judge(text, wanted, signals, cancelled or ())
        return tuple(sorted(signals, key=lambda s: (s.start, s.name, s.language)))

    def _judge(
        self, text: str, wanted: str | None, found: list[Signal], cancelled: Sequence[Cancelled]
    ) -> list[Signal]:
        """Add the signals the model finds that the lexicon neither found nor cancelled."""
        if self.model is None:
            return found
        skip = {s.name for s in found} | {c.name for c in cancelled}
        language = wanted or (found[0].language if found else UNDETERMINED)
        for finding in self.model.score(text, tuple(skip)):
            found.append(_modelled(finding, text, language, self.model.source))
        return found

    def detect(self, text: str | None, language: str | None = None) -> tuple[Signal, ...]:
        """Return the signals in ``text``; ``language`` narrows the lexicons searched."""
        return self._scan(text, language, None)

    def explain(
        self, text: str | None, language: str | None = None
    ) -> tuple[tuple[Signal, ...], tuple[Cancelled, ...]]:
        """Return the signals and every candidate cancelled on the way, with what cancelled it."""
        cancelled: list[Cancelled] = []
        signals = self._scan(text, language, cancelled)
        # A language's own reading may find a candidate the text as written had already.
        return signals, tuple(dict.fromkeys(cancelled))
