"""Score a message with the trained signal model, a second opinion behind the lexicon.

The lexicon finds what its phrases say; on messages written by people who
never saw it, it misses threats and demands worded some other way
(docs/lexicons.md, "What broadening does not fix").  The model is a linear
classifier per signal over the words, word pairs and letter sequences of a
message, trained by ``bench/train_model.py`` on the labelled corpus in
``tests/corpus/`` (hard negatives included) with a threshold set by
cross-validation, never by the held-out sets.  The detector asks it only for
a signal the lexicon did not find and did not cancel, so the lexicon's
negations, exclusions and cue sets (someone else's threat, a hypothetical)
still have the last word.

The model file is data: one feature per line with its weight per signal, so
the evidence of a signal the model found names the line of its strongest
feature.  The same ``features`` function serves training and scoring.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

_WORD = re.compile(r"\w+")
_CHARS = range(4, 5)  # letter sequences of four, inside one word


def features(text: str) -> set[str]:
    """Return the features of a text: words, word pairs and letter sequences within a word.

    Words and pairs carry a ``w:`` prefix; letter sequences are bare, padded
    with a space at the word's edges (`` ha``, ``ate ``) as scikit-learn's
    ``char_wb`` makes them, so the two kinds never collide.
    """
    low = text.lower()
    words = _WORD.findall(low)
    found = {"w:" + w for w in words}
    found.update("w:" + a + " " + b for a, b in itertools.pairwise(words))
    for token in set(low.split()):
        padded = f" {token} "
        found.update(map(padded.__getitem__, _slices(len(padded))))
    return found


@functools.lru_cache(maxsize=256)
def _slices(size: int) -> tuple[slice, ...]:
    """Return the slices of every letter sequence in a padded word of ``size`` characters."""
    return tuple(slice(i, i + n) for n in _CHARS for i in range(size - n + 1))


def corpus_digest(paths: Iterable[Path]) -> str:
    """Return the SHA-256 of the corpus files a model was trained on, in name order."""
    digest = hashlib.sha256()
    for path in sorted(paths, key=lambda p: p.name):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class Finding:
    """A signal the model scores above its threshold, and its strongest feature."""

    name: str
    score: float  # the probability the model gives the signal
    feature: str  # the feature that added most to the score ("w:where you")
    line: int  # the feature's line in the model file


@dataclass(frozen=True)
class Model:
    """Weights per feature and signal, a bias and a threshold (in logits) per signal."""

    source: str  # the file as evidence names it: from the project root when inside it
    signals: tuple[str, ...]
    bias: tuple[float, ...]
    cutoff: tuple[float, ...]  # the logit of each signal's probability threshold
    weights: dict[str, tuple[int, tuple[float, ...]]]  # feature -> (line, weights)
    corpus: str  # corpus_digest of the training corpus

    def score(self, text: str, skip: Sequence[str] = ()) -> list[Finding]:
        """Return the signals (other than ``skip``) the model finds in ``text``."""
        present = features(text)
        get = self.weights.get
        known = [(f, row) for f in present if (row := get(f)) is not None]
        if not known:
            return []
        scale = 1.0 / math.sqrt(len(present))
        sums = map(sum, zip(*(row[1] for _, row in known), strict=True))
        findings = []
        for k, total in enumerate(sums):
            logit = self.bias[k] + scale * total
            name = self.signals[k]
            if logit < self.cutoff[k] or name in skip:
                continue
            feature, (line, _) = max(known, key=lambda item: (item[1][1][k], item[0]))
            findings.append(Finding(name, 1.0 / (1.0 + math.exp(-logit)), feature, line))
        return findings
