"""Load lexicon files into compiled matchers, refusing unsafe or invalid entries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import re2
from marshmallow import ValidationError

from schemas.common import flatten
from schemas.lexicon import LexiconFileSchema
from service.ruleset.issues import Issue, line_of, render_path
from service.ruleset.yamlsrc import Located
from service.signals import patterns
from service.signals.patterns import PatternError, Regex


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


def load_file(path: str, located: Located) -> tuple[LexiconFile | None, list[Issue]]:
    """Validate and compile one parsed lexicon file."""
    lines = located.lines
    try:
        data: dict[str, Any] = LexiconFileSchema().load(
            located.data if located.data is not None else {}
        )
    except ValidationError as exc:
        return None, [
            Issue(path, line_of(lines, where), message, where=render_path(where))
            for where, message in flatten(exc.messages)
        ]
    issues: list[Issue] = []
    parts = path.replace("\\", "/").split("/")
    if len(parts) >= 2 and parts[-2] != data["language"]:
        issues.append(
            Issue(
                path,
                line_of(lines, ("language",)),
                f'language is "{data["language"]}" but the file lies in the folder "{parts[-2]}"',
            )
        )
    if parts[-1].rsplit(".", 1)[0] != data["signal"]:
        issues.append(
            Issue(
                path,
                line_of(lines, ("signal",)),
                f'signal is "{data["signal"]}" but the file is named "{parts[-1]}"',
            )
        )
    bare = data["match_without_diacritics"]
    lists: dict[str, patterns.Group] = {}
    for name, alternatives in data["lists"].items():
        try:
            lists[name] = patterns.parse_list(alternatives, bare)
        except PatternError as exc:
            issues.append(
                Issue(
                    path,
                    line_of(lines, ("lists", name)),
                    f"list {name}: {exc}",
                    where=f"lists.{name}",
                )
            )

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
                    Issue(
                        path,
                        line,
                        f'"{pattern}" is listed twice (first at line {seen[pattern]})',
                        where=render_path(where),
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
                issues.append(Issue(path, line, f'"{pattern}": {exc}', where=render_path(where)))
                continue
            compiled.append((pattern, line, regex))
        return compiled

    phrases = compile_list(("phrases",), data["phrases"], cue=False)
    exclusions = compile_list(("exclusions",), data["exclusions"], cue=True)
    default_window = data["negation"]["window"]
    cues = {
        side: compile_list(("negation", side), [c for c, _ in data["negation"][side]], cue=True)
        for side in ("before", "after")
    }

    def with_windows(side: str) -> tuple[tuple[Regex, int], ...]:
        windows = dict(data["negation"][side])
        return tuple(
            (patterns.build_one(regex), w if (w := windows[cue]) is not None else default_window)
            for cue, _, regex in cues[side]
        )

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
            exclusions=tuple(patterns.build_one(r) for _, _, r in exclusions),
            before=with_windows("before"),
            after=with_windows("after"),
            cross_commas=data["negation"]["cross_commas"],
        )
    except (PatternError, re2.error) as exc:
        return None, [Issue(path, 1, str(exc))]
    return compiled, []
