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
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import re2

from service.signals import patterns
from service.signals.lexicon import Cue, CueSet, Lexicon, LexiconFile, Spelling
from service.signals.normalize import (
    BOUNDARIES,
    HARD,
    SOFT,
    Canonical,
    Normalized,
    Token,
    canonical,
    is_cjk,
    normalize,
    strip_diacritics,
)
from service.signals.patterns import MIN_STEM, PatternError, Regex

# What a detector may leave out, for measuring what each mechanism costs and finds.
MECHANISMS = ("cues", "infinitive", "respell", "transliterate", "fuzzy", "borrowings")


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


def _spans(regexes: tuple[Regex, ...], canon: Canonical) -> Iterator[tuple[int, int]]:
    """Yield the (first, last) token indices of every match of each expression."""
    for regex in regexes:
        for match in regex.finditer(canon.data):
            if match.end() > match.start():
                yield canon.starts[match.start()], canon.ends[match.end()]


def _blocked(norm: Normalized, low: int, high: int, cross_commas: bool) -> bool:
    """Tell whether a sentence end (or, unless allowed, a comma) lies in tokens low..high-1."""
    blocking = {HARD} if cross_commas else BOUNDARIES
    return any(norm.tokens[i].text in blocking for i in range(low, high))


MAX_WINDOW = 5  # the schema's limit on negation windows
# Words from a comma to a match a German zu-infinitive clause may hold ("Sie jemals zu verklagen").
INFINITIVE_REACH = 6
INFINITIVE_WINDOW = 1  # words from a cue to that comma ("keine Absicht mehr, ...")


@dataclass
class _Cues:
    """The negation cues and exclusions of one file in one message, found once and indexed.

    Each candidate match then looks only at the few tokens around it, so a
    long message with many candidates stays linear.
    """

    before: dict[int, list[tuple[int, Cue]]]  # last token of a cue -> (first token, cue)
    after: dict[int, list[tuple[int, Cue]]]  # first token of a cue -> (last token, cue)
    excluded: dict[int, Cue]  # token covered by an exclusion -> the exclusion
    infinitive: set[int]  # tokens of a word that marks a zu-infinitive clause
    not_infinitive: set[int]  # first tokens of words that keep a clause from being one

    @classmethod
    def find(cls, lex: LexiconFile, canon: Canonical, infinitive: bool) -> _Cues:
        before: dict[int, list[tuple[int, Cue]]] = {}
        for cue in lex.before:
            for first, last in _spans((cue.regex,), canon):
                before.setdefault(last, []).append((first, cue))
        after: dict[int, list[tuple[int, Cue]]] = {}
        for cue in lex.after:
            for first, last in _spans((cue.regex,), canon):
                after.setdefault(first, []).append((last, cue))
        excluded: dict[int, Cue] = {}
        for cue in lex.exclusions:
            for low, high in _spans((cue.regex,), canon):
                for i in range(low, high + 1):
                    excluded.setdefault(i, cue)
        marks = (
            {i for low, high in _spans(lex.infinitive, canon) for i in range(low, high + 1)}
            if infinitive
            else set()
        )
        unmarks = (
            {low for low, _ in _spans(lex.infinitive_not, canon)} if infinitive and marks else set()
        )
        return cls(before, after, excluded, marks, unmarks)


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
    commas = [i for i in range(cue_last + 1, first) if norm.tokens[i].text in BOUNDARIES]
    if len(commas) != 1 or norm.tokens[commas[0]].text != SOFT:
        return False
    comma = commas[0]
    return (
        comma - min(window, INFINITIVE_WINDOW) - 1 <= cue_last
        and first - comma - 1 <= INFINITIVE_REACH
        and comma + 1 not in cues.not_infinitive
        and any(i in cues.infinitive for i in _verb_end(norm, max(comma + 1, last - 1), last))
    )


def _verb_end(norm: Normalized, low: int, last: int) -> Iterator[int]:
    """Yield the tokens where a zu-infinitive may stand: the match's end and two words on.

    "Sie zu verklagen" ends the match with the verb; "mit dem Anwalt zu
    drohen" follows it; "bringen Sie mich zu Ihrem Chef" holds a "zu" that
    is no infinitive, further from the end.
    """
    yield from range(low, last + 1)
    for i in range(last + 1, min(last + 3, len(norm.tokens))):
        if norm.tokens[i].text in BOUNDARIES:
            return
        yield i


def _negated(lex: LexiconFile, norm: Normalized, cues: _Cues, first: int, last: int) -> Cue | None:
    """Return the negation cue that stands just before (or after) the match, if any.

    A cue before the match counts when it starts before it and ends at most
    the cue's ``window`` words before its first word, or on it ("не собираюсь"
    before "собираюсь судиться"); likewise after.
    """
    reach = MAX_WINDOW + 1 + (INFINITIVE_REACH + 1 if cues.infinitive else 0)
    for cue_last in range(first - reach, last + 1):
        for cue_first, cue in cues.before.get(cue_last, ()):
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
        for cue_last, cue in cues.after.get(cue_first, ()):
            near = cue_last > last and cue_first <= last + cue.window + 1
            if near and (
                cue_first <= last or not _blocked(norm, last + 1, cue_first, lex.cross_commas)
            ):
                return cue
    return None


def _units(norm: Normalized) -> tuple[list[int], list[int]]:
    """Number each token's clause and sentence, so "same clause" is one comparison."""
    texts = [token.text for token in norm.tokens]
    sentence = list(itertools.accumulate((int(text == HARD) for text in texts), initial=0))[1:]
    clause = list(itertools.accumulate((int(text in BOUNDARIES) for text in texts), initial=0))[1:]
    return clause, sentence


@dataclass
class _SetIndex:
    """Where one cue set's cues stand in one message, indexed per clause or sentence."""

    cue_set: CueSet
    unit: list[int]
    earliest: dict[int, tuple[int, Cue]] = field(default_factory=dict)  # unit -> first cue start
    latest: dict[int, tuple[int, Cue]] = field(default_factory=dict)  # unit -> last cue end
    by_last: dict[int, list[tuple[int, Cue]]] = field(default_factory=dict)
    by_first: dict[int, list[tuple[int, Cue]]] = field(default_factory=dict)

    @classmethod
    def find(
        cls,
        cue_set: CueSet,
        norm: Normalized,
        units: tuple[list[int], list[int]],
        present: Iterable[int] | None = None,
    ) -> _SetIndex:
        """Index the cues of a set; ``present``: the cues known to occur (None: look for all)."""
        unit = units[0] if cue_set.scope == "clause" else units[1]
        index = cls(cue_set, unit)
        canon = norm.bare if cue_set.bare else norm.exact
        cues = cue_set.cues if present is None else [cue_set.cues[i] for i in sorted(present)]
        for cue in cues:
            for first, last in _spans((cue.regex,), canon):
                first, last = _trim(norm, first, last)
                key = unit[last]
                if key not in index.earliest or first < index.earliest[key][0]:
                    index.earliest[key] = (first, cue)
                key = unit[first]
                if key not in index.latest or last > index.latest[key][0]:
                    index.latest[key] = (last, cue)
                index.by_last.setdefault(last, []).append((first, cue))
                index.by_first.setdefault(first, []).append((last, cue))
        return index

    def cancels(self, first: int, last: int) -> Cue | None:
        """Return the cue that cancels a candidate spanning tokens first..last, if any."""
        position, window, unit = self.cue_set.position, self.cue_set.window, self.unit
        if position in ("before", "either"):
            if window is None:
                hit = self.earliest.get(unit[first])
                if hit is not None and hit[0] <= first:
                    return hit[1]
            else:
                for cue_last in range(first - window - 1, last + 1):
                    for cue_first, cue in self.by_last.get(cue_last, ()):
                        if cue_first <= first and unit[cue_last] == unit[first]:
                            return cue
        if position in ("after", "either"):
            if window is None:
                hit = self.latest.get(unit[last])
                if hit is not None and hit[0] >= last:
                    return hit[1]
            else:
                for cue_first in range(first, last + window + 2):
                    for cue_last, cue in self.by_first.get(cue_first, ()):
                        if cue_last >= last and unit[cue_first] == unit[last]:
                            return cue
        return None


def _trim(norm: Normalized, first: int, last: int) -> tuple[int, int]:
    """Drop the punctuation an anchored phrase took at its ends."""
    while first < last and norm.tokens[first].text in BOUNDARIES:
        first += 1
    while last > first and norm.tokens[last].text in BOUNDARIES:
        last -= 1
    return first, last


class _CueFinder:
    """The cues of one language's cue sets in RE2 sets: which occur in a message, in one pass."""

    def __init__(self, cue_sets: tuple[CueSet, ...]) -> None:
        self.size = len(cue_sets)
        self.sets: list[tuple[Any, bool, list[tuple[int, int]]]] = []
        for bare in (False, True):
            owners = [
                (n, i)
                for n, cue_set in enumerate(cue_sets)
                if cue_set.bare == bare
                for i in range(len(cue_set.cues))
            ]
            if not owners:
                continue
            compiled = re2.Set.SearchSet(patterns.options())
            for n, i in owners:
                compiled.Add(cue_sets[n].cues[i].regex.pattern)
            compiled.Compile()
            self.sets.append((compiled, bare, owners))

    def present(self, norm: Normalized) -> list[set[int]] | None:
        """Return, per cue set, the indices of its cues in the message (None: look for all)."""
        found: list[set[int]] = [set() for _ in range(self.size)]
        for compiled, bare, owners in self.sets:
            for k in compiled.Match((norm.bare if bare else norm.exact).data) or ():
                n, i = owners[k]
                found[n].add(i)
        if not any(found) and len(norm.exact.data) > LONG_TEXT:
            return None  # a set's DFA may give up on a long text: look for every cue
        return found


@dataclass
class _Message:
    """One message as one language's files read it, with its cue sets found on demand."""

    norm: Normalized
    cue_sets: tuple[CueSet, ...]
    edits: Mapping[int, str]  # token index -> the rewrite that made it
    use_infinitive: bool = True
    finder: _CueFinder | None = None  # which cues occur at all, in one pass
    _units: tuple[list[int], list[int]] | None = None
    _sets: list[_SetIndex] | None = None

    def cancelling_set(self, signal: str, first: int, last: int) -> tuple[CueSet, Cue] | None:
        if not self.cue_sets:
            return None
        if self._sets is None:
            self._units = _units(self.norm)
            present = self.finder.present(self.norm) if self.finder is not None else None
            self._sets = [
                _SetIndex.find(s, self.norm, self._units, None if present is None else present[n])
                for n, s in enumerate(self.cue_sets)
                if present is None or present[n]
            ]
        for index in self._sets:
            if signal in index.cue_set.signals:
                cue = index.cancels(first, last)
                if cue is not None:
                    return index.cue_set, cue
        return None


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
        message = _Message(message, (), {})
    norm = message.norm
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
            cues = _Cues.find(lex, canon, message.use_infinitive and bool(lex.infinitive))
        why: tuple[str, str] | None = None
        excluded = next(
            (cues.excluded[i] for i in range(first, last + 1) if i in cues.excluded), None
        )
        if excluded is not None:
            why = ("exclusion", f"{lex.path}:{excluded.line}")
        elif (negation := _negated(lex, norm, cues, first, last)) is not None:
            why = ("negation", f"{lex.path}:{negation.line}")
        elif (hit := message.cancelling_set(lex.signal, first, last)) is not None:
            why = (f"cue set {hit[0].name}", f"{hit[0].path}:{hit[1].line}")
        matched = match.group()
        start, end = norm.span(first, last)
        edits = tuple(
            dict.fromkeys(message.edits[i] for i in range(first, last + 1) if i in message.edits)
        )
        if message.edits and not edits:
            # A language's own reading adds only matches its rewrites made; the rest the
            # text as written has already had judged (its cues may have been rewritten).
            continue
        if claimed is not None:
            if message.edits:
                if any(i in claimed for i in range(start, end)):
                    continue
            else:
                claimed.update(range(start, end))
        if why is not None and cancelled is None:
            continue
        entry = next((e for e in lex.phrases if e.regex.fullmatch(matched)), lex.phrases[0])
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


# Phrase expressions per prefilter program: RE2 refuses programs past its
# memory budget, so a growing lexicon gets more programs, never none.
PREFILTER_CHUNK = 400
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

    @property
    def static(self) -> bool:
        """Tell whether only the words of its tables change (no transliteration, no fuzzy)."""
        return not (self.spelling.fuzzy and "fuzzy" not in self.off) and not (
            self.spelling.transliterate and "transliterate" not in self.off
        )

    def table_keys(self) -> Iterator[str]:
        """Yield the table keys this speller applies (``stem*`` keys as written)."""
        if "respell" not in self.off:
            yield from self.spelling.respell
        if "borrowings" not in self.off:
            yield from self.spelling.borrow

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

    def variant(
        self, norm: Normalized, texts: list[str]
    ) -> tuple[Normalized, dict[int, str]] | None:
        """Return the message as this language reads it, or None when nothing changes."""
        rewrites = list(map(self.rewrite, texts))
        # Only a rewritten word a phrase may match can make this reading find more than
        # the text as written: most Latin messages transliterate to nothing of use.
        if not any(r[2] for r in rewrites if r is not None):
            return None
        tokens: list[Token] = []
        edits: dict[int, str] = {}
        for token, found in zip(norm.tokens, rewrites, strict=True):
            if found is None:
                tokens.append(token)
                continue
            for word in found[0]:
                edits[len(tokens)] = found[1]
                tokens.append(Token(word, _bare(word), token.start, token.end))
        return (
            Normalized(
                original=norm.original,
                tokens=tuple(tokens),
                exact=canonical([t.text for t in tokens]),
                bare=canonical([t.bare for t in tokens]),
            ),
            edits,
        )


UNDETERMINED = "und"  # ISO 639-2: a shouted message's language, with no hint and no other signal


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
        self.sets: list[tuple[Any, bool, list[int]]] = []
        self.everything = list(indices)
        for bare in (False, True):
            entries = [
                (i, e.source) for i in indices if files[i].bare == bare for e in files[i].phrases
            ]
            self._add(entries, bare)
        self.fallback = Detector.filters(tuple(files[i] for i in indices))

    def _add(self, entries: list[tuple[int, str]], bare: bool) -> None:
        for start in range(0, len(entries), PREFILTER_CHUNK):
            chunk = entries[start : start + PREFILTER_CHUNK]
            compiled = re2.Set.SearchSet(patterns.options())
            try:
                for _, source in chunk:
                    if compiled.Add(source) < 0:
                        raise re2.error(f"cannot add {source!r}")
                compiled.Compile()
            except (re2.error, RuntimeError, ValueError):
                if len(chunk) == 1:
                    raise
                half = len(chunk) // 2
                self._add(chunk[:half], bare)
                self._add(chunk[half:], bare)
                continue
            self.sets.append((compiled, bare, [i for i, _ in chunk]))

    def matching(self, norm: Normalized) -> set[int]:
        """Return the indices of the files some phrase of which matches the message."""
        found: set[int] = set()
        for compiled, bare, owners in self.sets:
            data = (norm.bare if bare else norm.exact).data
            found.update(owners[i] for i in compiled.Match(data) or ())
        if (
            not found
            and len(norm.exact.data) > LONG_TEXT
            and Detector.may_match(self.fallback, norm)
        ):
            return set(self.everything)
        return found


LONG_TEXT = 4096  # bytes of canonical text past which a set's silence is double-checked


class Detector:
    """Detect signals with one compiled lexicon.

    Most messages carry no signal.  RE2 sets made of every phrase of every
    file (for files matched with diacritics, and for files matched without)
    tell in one pass each which files can match at all; only those are then
    scanned with their negations, exclusions and cue sets.  ``off`` leaves
    mechanisms out (see MECHANISMS), for the benchmark.
    """

    def __init__(self, lexicon: Lexicon, off: frozenset[str] = frozenset()) -> None:
        self.lexicon = lexicon
        self.off = off
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
        self._finders = {lang: _CueFinder(sets) for lang, sets in self._cue_sets.items()}
        self._spellers: dict[str, tuple[_Speller, _FileSets]] = {}
        for spelling in lexicon.spellings:
            own = [i for i, f in enumerate(files) if f.language == spelling.language]
            words = {w for i in own for w in files[i].words}
            keys = {k for i in own for k in files[i].keys}
            self._spellers[spelling.language] = (
                _Speller.build(spelling, words, keys, off),
                _FileSets(files, own),
            )
        # One pass over a message's words tells which languages' tables touch it at all.
        self._touched_by: dict[str, set[str]] = {}
        for language, (speller, _) in self._spellers.items():
            if speller.static:
                for key in speller.table_keys():
                    self._touched_by.setdefault(key, set()).add(language)
        self._stem_sizes = sorted(
            {len(k) - 1 for k in self._touched_by if k.endswith("*")}, reverse=True
        )
        self._dynamic = {lang for lang, (sp, _) in self._spellers.items() if not sp.static}

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

    def _messages(
        self, norm: Normalized, wanted: str | None
    ) -> dict[str, tuple[_Message, set[int]]]:
        """Return, per language with its own spelling, its reading of the message.

        Only readings some phrase of the language matches, with those files.
        """
        out: dict[str, tuple[_Message, set[int]]] = {}
        texts = [token.text for token in norm.tokens]
        touched = set(self._dynamic)
        index = self._touched_by
        for text in texts:
            if text in index:
                touched |= index[text]
            for size in self._stem_sizes:
                if size <= len(text) and (key := text[:size] + "*") in index:
                    touched |= index[key]
        for language, (speller, sets) in self._spellers.items():
            if language not in touched or (wanted and language != wanted):
                continue
            found = speller.variant(norm, texts)
            if found is None:
                continue
            variant, edits = found
            files = sets.matching(variant)
            if files:
                message = _Message(
                    variant,
                    self._cue_sets.get(language, ()),
                    edits,
                    "infinitive" not in self.off,
                    self._finders.get(language),
                )
                out[language] = (message, files)
        return out

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
        variants = self._messages(norm, wanted)
        if not base and not variants:
            return tuple(self._shout(text, wanted, []))
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
                message = plain[lex.language] = _Message(
                    norm,
                    self._cue_sets.get(lex.language, ()),
                    {},
                    "infinitive" not in self.off,
                    self._finders.get(lex.language),
                )
            signal = scan_file(lex, message, cancelled, claimed)
            if signal is not None:
                found[index] = signal
        # A language's own reading of the message (respelled, transliterated) is a second
        # chance, after every file has read the text as written, and never hides it.
        for variant, indices in variants.values():
            for index in sorted(indices - found.keys()):
                signal = scan_file(files[index], variant, cancelled, claimed)
                if signal is not None:
                    found[index] = signal
        signals = self._shout(text, wanted, list(found.values()))
        return tuple(sorted(signals, key=lambda s: (s.start, s.name, s.language)))

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
