"""Problems found in rule and lexicon files, phrased for rule authors.

Every problem names the file, the line and column, the rule (or lexicon
entry), where in it, what is wrong, and, where we can guess, what was meant
(the hint, kept apart from the message).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from service.engine.model import Path


@dataclass(frozen=True)
class Issue:
    """One problem in one file; ``line`` and ``column`` count from 1 (column None: unknown)."""

    file: str
    line: int
    message: str
    rule: str | None = None
    where: str = ""
    hint: str | None = None
    column: int | None = None

    def __str__(self) -> str:
        subject = ", ".join(
            part for part in (f"rule {self.rule}" if self.rule else "", self.where) if part
        )
        place = f"{self.line}:{self.column}" if self.column is not None else str(self.line)
        text = f"{self.file}:{place}: "
        text += f"{subject}: {self.message}" if subject else self.message
        return text + (f" ({self.hint})" if self.hint else "")

    def as_dict(self) -> dict[str, object]:
        """Return the issue as a JSON-ready mapping."""
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "rule": self.rule,
            "where": self.where,
            "message": self.message,
            "hint": self.hint,
        }


class InvalidFiles(Exception):
    """Raised with every issue found in a set of files."""

    def __init__(self, issues: Iterable[Issue]) -> None:
        self.issues = sorted(
            issues, key=lambda i: (i.file, i.line, i.column or 0, i.where, i.message)
        )
        super().__init__("\n".join(str(issue) for issue in self.issues))


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


def column_of(columns: Mapping[Path, int], lines: Mapping[Path, int], path: Path) -> int | None:
    """Return the column of the ancestor ``line_of`` picks, or None when it has none."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return columns.get(path[:end])
    return None
