"""Read one lexicon file: check it, compile its phrases, and report every problem."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import re2
from marshmallow import ValidationError

from schemas.common import flatten
from schemas.lexicon import CueFileSchema, LexiconFileSchema, SpellingFileSchema
from service.hints import Hinted
from service.ruleset.issues import Issue, line_of
from service.ruleset.yamlsrc import Located
from service.signals import patterns
from service.signals.lexicon import Cue, CueSet, Entry, LexiconFile, Shouting, Spelling
from service.signals.normalize import word_tokens
from service.signals.patterns import PatternError


def load_file(path: str, located: Located) -> tuple[LexiconFile | None, list[Issue]]:
    """Validate and compile one parsed lexicon file."""
    lines = located.lines
    try:
        data: dict[str, Any] = LexiconFileSchema().load(
            located.data if located.data is not None else {}
        )
    except ValidationError as exc:
        return None, [located.issue(path, where, m) for where, m in flatten(exc.messages)]
    issues: list[Issue] = []
    parts = path.replace("\\", "/").split("/")
    if len(parts) >= 2 and parts[-2] != data["language"]:
        issues.append(
            located.issue(
                path,
                ("language",),
                f'language is "{data["language"]}" but the file lies in the folder "{parts[-2]}"',
            )
        )
    if parts[-1].rsplit(".", 1)[0] != data["signal"]:
        issues.append(
            located.issue(
                path,
                ("signal",),
                f'signal is "{data["signal"]}" but the file is named "{parts[-1]}"',
            )
        )
    bare = data["match_without_diacritics"]
    lists: dict[str, patterns.Group] = {}
    for name, alternatives in data["lists"].items():
        try:
            lists[name] = patterns.parse_list(alternatives, bare)
        except PatternError as exc:
            issues.append(located.issue(path, ("lists", name), _hinted(exc, f"list {name}: ")))

    def compile_list(
        key: Sequence[str | int], items: Sequence[str], cue: bool
    ) -> list[tuple[str, int, str]]:
        compiled: list[tuple[str, int, str]] = []
        seen: dict[str, int] = {}
        for index, pattern in enumerate(items):
            where = (*key, index)
            line = line_of(lines, where)
            if pattern in seen:
                issues.append(
                    located.issue(
                        path, where, f'"{pattern}" is listed twice (first at line {seen[pattern]})'
                    )
                )
                continue
            seen[pattern] = line
            try:
                regex = (
                    patterns.compile_cue(pattern, bare, lists)
                    if cue
                    else patterns.compile_phrase(pattern, bare, lists)
                )
            except PatternError as exc:
                issues.append(located.issue(path, where, _hinted(exc, f'"{pattern}": ')))
                continue
            compiled.append((pattern, line, regex))
        return compiled

    phrases = compile_list(("phrases",), data["phrases"], cue=False)
    exclusions = compile_list(("exclusions",), data["exclusions"], cue=True)
    default_window = data["negation"]["window"]
    cues = {
        side: compile_list(("negation", side), [c for c, _ in data["negation"][side]], cue=True)
        for side in ("before", "after", "infinitive", "infinitive_not")
    }

    def with_windows(side: str) -> tuple[Cue, ...]:
        windows = dict(data["negation"][side])
        return tuple(
            Cue(
                patterns.build_one(regex),
                line,
                w if (w := windows[cue]) is not None else default_window,
            )
            for cue, line, regex in cues[side]
        )

    raw_phrases = (located.data or {}).get("phrases", []) if isinstance(located.data, dict) else []
    exact = {
        item["pattern"].strip()
        for item in raw_phrases
        if isinstance(item, dict)
        and item.get("exact") is True
        and isinstance(item.get("pattern"), str)
    }
    words: set[str] = set()
    keys: set[tuple[str, bool, bool]] = set()
    reach = 0
    for pattern, _, _ in phrases:
        items = patterns.parse(pattern, bare, lists)
        keys |= {(w.text, w.prefix, w.suffix) for w in patterns.all_words(items)}
        reach = max(reach, patterns.max_tokens(items))
        if pattern not in exact:
            words |= patterns.literal_words(items)

    if issues:
        return None, issues
    try:
        scan = patterns.build([regex for _, _, regex in phrases])
        compiled = LexiconFile(
            path=path,
            signal=data["signal"],
            language=data["language"],
            bare=bare,
            phrases=tuple(Entry(p, line, r) for p, line, r in phrases),
            scan=scan,
            exclusions=tuple(Cue(patterns.build_one(r), line) for _, line, r in exclusions),
            before=with_windows("before"),
            after=with_windows("after"),
            cross_commas=data["negation"]["cross_commas"],
            infinitive=tuple(patterns.build_one(r) for _, _, r in cues["infinitive"]),
            infinitive_not=tuple(patterns.build_one(r) for _, _, r in cues["infinitive_not"]),
            words=frozenset(words),
            keys=frozenset(keys),
            reach=reach,
            shouting=(
                Shouting(line_of(lines, ("shouting",)), **data["shouting"])
                if data["shouting"]
                else None
            ),
        )
    except (PatternError, re2.error) as exc:
        return None, [Issue(path, 1, str(exc))]
    return compiled, []


def _hinted(exc: PatternError, prefix: str = "") -> Hinted:
    return Hinted(prefix + exc.message, exc.hint)


CUES_FILE, SPELLING_FILE = "cues", "spelling"


def _folder_issue(path: str, located: Located, language: str) -> list[Issue]:
    parts = path.replace("\\", "/").split("/")
    if len(parts) >= 2 and parts[-2] != language:
        return [
            located.issue(
                path,
                ("language",),
                f'language is "{language}" but the file lies in the folder "{parts[-2]}"',
            )
        ]
    return []


def load_cues(path: str, located: Located) -> tuple[list[CueSet] | None, list[Issue]]:
    """Validate and compile a ``cues.yaml``: cue sets for every signal of its language."""
    try:
        data: dict[str, Any] = CueFileSchema().load(
            located.data if located.data is not None else {}
        )
    except ValidationError as exc:
        return None, [located.issue(path, where, m) for where, m in flatten(exc.messages)]
    issues = _folder_issue(path, located, data["language"])
    bare = data["match_without_diacritics"]
    sets: list[CueSet] = []
    for name, spec in data["sets"].items():
        cues: list[Cue] = []
        for index, pattern in enumerate(spec["cues"]):
            where = ("sets", name, "cues", index)
            try:
                regex = patterns.compile_cue(pattern, bare)
            except PatternError as exc:
                issues.append(located.issue(path, where, _hinted(exc, f'"{pattern}": ')))
                continue
            cues.append(Cue(patterns.build_one(regex), line_of(located.lines, where)))
        sets.append(
            CueSet(
                name=name,
                path=path,
                language=data["language"],
                bare=bare,
                signals=frozenset(spec["signals"]),
                scope=spec["scope"],
                position=spec["position"],
                window=spec["window"],
                cues=tuple(cues),
            )
        )
    return (None, issues) if issues else (sets, [])


def load_spelling(path: str, located: Located) -> tuple[Spelling | None, list[Issue]]:
    """Validate a ``spelling.yaml``: chat spellings, borrowings, transliteration, fuzzy."""
    try:
        data: dict[str, Any] = SpellingFileSchema().load(
            located.data if located.data is not None else {}
        )
    except ValidationError as exc:
        return None, [located.issue(path, where, m) for where, m in flatten(exc.messages)]
    issues = _folder_issue(path, located, data["language"])

    def table(key: str) -> dict[str, tuple[tuple[str, ...], int]]:
        out: dict[str, tuple[tuple[str, ...], int]] = {}
        for source, target in data[key].items():
            stem = source.endswith("*")
            folded = word_tokens(source.rstrip("*"))
            words = tuple(word_tokens(target))
            if len(folded) != 1 or not words or any(w in (",", "|") for w in words):
                issues.append(
                    located.issue(
                        path, (key, source), f'"{source}: {target}" is not one word to words'
                    )
                )
                continue
            out[folded[0] + ("*" if stem else "")] = (words, line_of(located.lines, (key, source)))
        return out

    transliterate = tuple(
        sorted(
            ((s.casefold(), t) for s, t in data["transliterate"].items()),
            key=lambda pair: -len(pair[0]),
        )
    )
    spelling = Spelling(
        path=path,
        language=data["language"],
        respell=table("respell"),
        borrow=table("borrowings"),
        transliterate=transliterate,
        fuzzy=data["fuzzy"],
    )
    return (None, issues) if issues else (spelling, [])
