"""Guess what a person meant by a misspelled word: the one "did you mean" of the project.

Messages for rule authors and API clients say what is wrong; the guess travels
beside it as a hint, so each consumer can show it where it belongs.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# difflib's own default; low enough for one or two typos in short names.
CUTOFF = 0.6


def closest(word: str, choices: Iterable[str]) -> str | None:
    """Return the choice closest to ``word``, or None when none is close enough."""
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=CUTOFF)
    return found[0] if found else None


def did_you_mean(word: str, choices: Iterable[str], *, written: str = "{}") -> str | None:
    """Return 'did you mean "x"?' for the closest choice, or None.

    ``written`` shows how the guess is written in the file, such as "{{{}}}" for a placeholder.
    """
    best = closest(word, choices)
    return f'did you mean "{written.format(best)}"?' if best is not None else None


def one_of(choices: Iterable[str]) -> str:
    """Return 'expected one of: a, b, c' for a fixed set of choices."""
    return f"expected one of: {', '.join(choices)}"


class Hinted(str):
    """A message with its hint apart; as text it reads "message; hint" (the API's wording)."""

    message: str
    hint: str | None

    def __new__(cls, message: str, hint: str | None) -> Hinted:
        """Build the combined text and keep both parts."""
        self = super().__new__(cls, f"{message}; {hint}" if hint else message)
        self.message, self.hint = message, hint
        return self


def split(text: str) -> tuple[str, str | None]:
    """Return a message and its hint: apart for a Hinted message, else the text and None."""
    if isinstance(text, Hinted):
        return text.message, text.hint
    return text, None
