"""The labelled corpus of messages in tests/corpus/, one file per language."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from schemas.corpus import load_messages

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


@dataclass(frozen=True)
class Message:
    """One labelled message."""

    language: str
    index: int
    text: str
    signals: frozenset[str]
    note: str | None
    known_error: str | None
    kind: str | None = None

    @property
    def id(self) -> str:
        """Return a short, stable id for test names."""
        return f"{self.language}-{self.index:03d}"


def load_corpus(directory: Path = CORPUS) -> list[Message]:
    """Load every corpus file; each must name the language of its file name."""
    messages = []
    for path in sorted(directory.glob("*.yaml")):
        data = load_messages(yaml.safe_load(path.read_text(encoding="utf-8")))
        if data["language"] != path.stem:
            raise ValueError(f"{path} says language {data['language']}")
        for index, item in enumerate(data["messages"]):
            messages.append(
                Message(
                    data["language"],
                    index,
                    item["text"],
                    frozenset(item["signals"]),
                    item.get("note"),
                    item.get("known_error"),
                    item.get("kind"),
                )
            )
    return messages
