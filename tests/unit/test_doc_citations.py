"""Every lexicon entry the README and docs cite by file and line stands on that line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# "matched entry '<entry>' at rules/lexicons/<lang>/<file>.yaml:<line>", as `why` renders a signal.
CITATION = re.compile(r"matched entry\s+'(.+?)'\s+at (rules/lexicons/[a-z]{2}/[a-z_]+\.yaml):(\d+)")


def citations() -> list[tuple[str, str, str, int]]:
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for match in CITATION.finditer(text):
            entry, path, line = match.group(1), match.group(2), int(match.group(3))
            found.append((doc.name, entry, path, line))
    return found


def test_the_docs_cite_lexicon_entries() -> None:
    # Without citations the test below would pass on nothing.
    assert len(citations()) >= 3


@pytest.mark.parametrize(("doc", "entry", "path", "line"), citations())
def test_a_cited_entry_stands_on_its_line(doc: str, entry: str, path: str, line: int) -> None:
    lines = Path(ROOT / path).read_text(encoding="utf-8").splitlines()
    assert line <= len(lines), f"{doc} cites {path}:{line}, past its end"
    assert entry in lines[line - 1], f"{doc} cites {path}:{line}, which holds {lines[line - 1]!r}"
