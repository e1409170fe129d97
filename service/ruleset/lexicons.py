"""Read one lexicon file: check it, compile its phrases, and report every problem."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import re2
from marshmallow import ValidationError

from schemas.common import flatten
from schemas.lexicon import LexiconFileSchema
from service.hints import Hinted
from service.ruleset.issues import Issue, line_of
from service.ruleset.yamlsrc import Located
from service.signals import patterns
from service.signals.lexicon import Entry, LexiconFile
from service.signals.patterns import PatternError, Regex


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


def _hinted(exc: PatternError, prefix: str = "") -> Hinted:
    return Hinted(prefix + exc.message, exc.hint)
