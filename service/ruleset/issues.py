"""Problems found in rule and lexicon files, phrased for rule authors.

Every problem names the file, the line, the rule (or lexicon entry), where in
it, what is wrong, and, where we can guess, what was meant.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from service.engine.model import Path


@dataclass(frozen=True)
class Issue:
    """One problem in one file."""

    file: str
    line: int
    message: str
    rule: str | None = None
    where: str = ""
    hint: str | None = None

    def __str__(self) -> str:
        subject = ", ".join(
            part for part in (f"rule {self.rule}" if self.rule else "", self.where) if part
        )
        text = f"{self.file}:{self.line}: "
        text += f"{subject}: {self.message}" if subject else self.message
        return text + (f" ({self.hint})" if self.hint else "")

    def as_dict(self) -> dict[str, object]:
        """Return the issue as a JSON-ready mapping."""
        return {
            "file": self.file,
            "line": self.line,
            "rule": self.rule,
            "where": self.where,
            "message": self.message,
            "hint": self.hint,
        }


class InvalidFiles(Exception):
    """Raised with every issue found in a set of files."""

    def __init__(self, issues: Iterable[Issue]) -> None:
        self.issues = sorted(issues, key=lambda i: (i.file, i.line, i.where, i.message))
        super().__init__("\n".join(str(issue) for issue in self.issues))


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """Return the closest choice to a misspelled word, or None."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """Return 'did you mean "x"?' for a misspelled word, or None."""
    best = suggest(word, choices)
    return f'did you mean "{best}"?' if best else None


def render_path(path: Path) -> str:
    """Render a location path the way rule authors read it: when.all[1].then."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + part
    return text


def line_of(lines: Mapping[Path, int], path: Path) -> int:
    """Return the line of the nearest located ancestor of ``path``."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 1
