"""Compare signal detection with an earlier revision's, over the corpus and generated texts.

    .venv/bin/python bench/signals_diff.py [--against e979bab] [--texts 20000] [--seed 1]
        [--long 3] [--hypothesis 300]

Loads ``service/signals`` as it was at ``--against`` (a git revision; the
default is the last one before the detector was made faster) next to the
current one, builds both detectors over the current lexicons, and compares,
for every text, ``detect`` and ``explain`` (signals with span, phrase,
file:line and spelling edits; every cancelled candidate with what cancelled
it), with no language hint and with one.  Texts: every corpus message
(``tests/corpus/*.yaml``), then generated ones: corpus messages with typos,
capitals, diacritics left out, punctuation changed, Latin transliteration,
chat spellings from the spelling tables, several messages joined; random
mixes of corpus words, Latin, Cyrillic, Arabic and CJK characters and
punctuation; long texts (no sentence end at all, repeated phrases); and,
with ``--hypothesis``, texts hypothesis generates and shrinks.  Prints what
differs and exits 1 if anything does.  It measures nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import random
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.policy import build_policy  # noqa: E402
from service.signals.detect import Detector  # noqa: E402
from tests.support.corpus import load_corpus  # noqa: E402

MODULES = ("__init__", "detect", "normalize", "patterns", "lexicon")
PACKAGE = "reference_signals"
LANGUAGES = ("en", "pl", "de", "fr", "es", "pt", "ru", "bg", "ar", "zh")
CYRILLIC_TO_LATIN = str.maketrans(
    {
        "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh", "з": "z",
        "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p",
        "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h", "ц": "ts", "ч": "ch",
        "ш": "sh", "щ": "sht", "ъ": "a", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
    }
)  # fmt: skip
EXTRA = (
    "中文我要找经理投诉律师。，、！？"
    "ابحث عن المدير سأقاضيكم، ؟ ؛"
    "Привет, позовите руководителя! болгарски…"
    "ąćęłńóśźżéèçñüöäßøæœ’‘`´ʼ-_'"
    ".,;:!?¡¿\n\t  ①ﬁＡＢＣ🙂\u200b\u0301\u064b"
)


def reference_detector(revision: str, lexicon: Any, into: Path) -> Any:
    """Import ``service/signals`` as it was at a revision and build its detector."""
    package = into / PACKAGE
    package.mkdir()
    for name in MODULES:
        source = subprocess.run(
            ["git", "show", f"{revision}:service/signals/{name}.py"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        (package / f"{name}.py").write_text(source.replace("service.signals", PACKAGE))
    sys.path.insert(0, str(into))
    module = importlib.import_module(f"{PACKAGE}.detect")
    # The reference reads the current loader's objects; it only uses fields both know.
    return module.Detector(lexicon)


def outcome(detector: Any, text: str, language: str | None) -> tuple[Any, ...]:
    """Return detect's and explain's results as plain tuples."""
    detected = tuple(map(dataclasses.astuple, detector.detect(text, language)))
    signals, cancelled = detector.explain(text, language)
    return (
        detected,
        tuple(map(dataclasses.astuple, signals)),
        tuple(map(dataclasses.astuple, cancelled)),
    )


def typo(word: str, rng: random.Random) -> str:
    """Return the word with one letter left out, doubled, replaced or swapped."""
    if len(word) < 3:
        return word
    i = rng.randrange(len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return word[:i] + word[i + 1 :]
    if kind == 1:
        return word[:i] + word[i] + word[i:]
    if kind == 2:
        return word[:i] + rng.choice("aeiourstnlkm") + word[i + 1 :]
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def generated(
    corpus: list[str],
    spelling_words: list[str],
    respellings: list[tuple[str, str]],
    vocabulary: set[str],
    count: int,
    rng: random.Random,
) -> Iterator[str]:
    """Yield texts made from the corpus and random characters, in many kinds."""
    words = " ".join(corpus).split()
    # Corpus messages holding a word a spelling table writes otherwise, or one a typo may fix.
    respellable = [(text, "", "") for text in corpus[:1]] + [
        (text, written, meant)
        for text in corpus
        for meant, written in respellings
        if f" {meant} " in f" {text.lower()} "
    ]
    fixable = [t for t in corpus if any(w.lower().strip(".,!?") in vocabulary for w in t.split())]
    fixable = fixable or corpus

    def respelled() -> str:
        text, written, meant = rng.choice(respellable)
        return f" {text.lower()} ".replace(f" {meant} ", f" {written} ", 1).strip()

    def typos() -> str:
        text = rng.choice(fixable)
        return " ".join(
            typo(w, rng) if w.lower().strip(".,!?") in vocabulary else w for w in text.split()
        )

    import unicodedata

    def strip(text: str) -> str:
        return "".join(
            c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)
        )

    kinds: list[Callable[[], str]] = [
        respelled,
        respelled,
        typos,
        typos,
        lambda: " ".join(
            typo(w, rng) if rng.random() < 0.4 else w for w in rng.choice(corpus).split()
        ),
        lambda: rng.choice(corpus).upper(),
        lambda: strip(rng.choice(corpus)),
        lambda: (
            rng.choice(corpus).replace(",", "").replace(".", rng.choice([",", ";", " ", "!!!"]))
        ),
        lambda: rng.choice(corpus).lower().translate(CYRILLIC_TO_LATIN),
        lambda: " ".join(rng.choice(corpus) for _ in range(rng.randint(2, 5))),
        lambda: " ".join(
            rng.choice(spelling_words) if rng.random() < 0.3 else w
            for w in rng.choice(corpus).split()
        ),
        lambda: " ".join(rng.choice(words) for _ in range(rng.randint(1, 40))),
        lambda: "".join(
            rng.choice(EXTRA) if rng.random() < 0.5 else rng.choice(words) + " "
            for _ in range(rng.randint(1, 30))
        ),
        lambda: "".join(rng.choice(EXTRA) for _ in range(rng.randint(0, 60))),
        lambda: ", ".join(rng.choice(words) for _ in range(rng.randint(1, 20))),
    ]
    for _ in range(count):
        yield rng.choice(kinds)()


def long_texts(corpus: list[str], count: int, rng: random.Random) -> Iterator[str]:
    """Yield long texts: corpus words in sentences, in one endless sentence, phrases repeated."""
    words = " ".join(corpus).split()
    for size in [10_000, 100_000][:count] + [30_000] * max(0, count - 2):
        text = ""
        while len(text) < size:
            text += " ".join(rng.choice(words) for _ in range(rng.randint(5, 60))) + ". "
        yield text[:size]
        yield text[:size].replace(".", " ").replace("!", " ").replace("?", " ")
        sample = rng.sample(corpus, 20)
        yield " ".join(sample * (size // sum(map(len, sample)) + 1))[:size]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="e979bab", help="git revision to compare with")
    parser.add_argument("--texts", type=int, default=20_000, help="generated short texts")
    parser.add_argument("--long", type=int, default=3, help="rounds of long texts")
    parser.add_argument("--hypothesis", type=int, default=0, help="hypothesis examples")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    lexicon = build_policy((ROOT / "rules").resolve()).detector.lexicon
    current = Detector(lexicon)
    with tempfile.TemporaryDirectory() as into:
        reference = reference_detector(args.against, lexicon, Path(into))
        rng = random.Random(args.seed)
        messages = load_corpus(ROOT / "tests" / "corpus")
        corpus = [m.text for m in messages]
        spelling_words = [
            key.rstrip("*") + ("" if not key.endswith("*") else rng.choice(["", "a", "em", "y"]))
            for spelling in lexicon.spellings
            for key in (*spelling.respell, *spelling.borrow)
        ] + [typo(w, rng) for f in lexicon.files for w in sorted(f.words) if len(w) >= 6]
        differences = 0
        compared = 0
        seen: Counter[str] = Counter()  # what the compared outcomes held, to show what was tried

        def compare(text: str, language: str | None) -> None:
            nonlocal differences, compared
            compared += 1
            mine, theirs = outcome(current, text, language), outcome(reference, text, language)
            seen["with a signal"] += bool(mine[0])
            seen["with a cancelled candidate"] += bool(mine[2])
            seen["with a spelling edit"] += any(signal[7] for signal in mine[0])
            if mine != theirs:
                differences += 1
                if differences <= 10:
                    print(f"DIFFERENT ({language}): {text[:300]!r}")
                    print(f"  current:   {mine}")
                    print(f"  reference: {theirs}")

        for message in messages:
            compare(message.text, None)
            compare(message.text, message.language)
        print(f"corpus: {compared} comparisons, {differences} different")
        respellings = [
            (" ".join(words), key.rstrip("*"))
            for spelling in lexicon.spellings
            for table in (spelling.respell, spelling.borrow)
            for key, (words, _) in table.items()
        ]
        vocabulary = {w for f in lexicon.files for w in f.words if len(w) >= 6}
        for text in generated(corpus, spelling_words, respellings, vocabulary, args.texts, rng):
            compare(text, rng.choice((*(None,) * 10, *LANGUAGES)))
        print(f"generated: {compared} comparisons in all, {differences} different")
        for text in long_texts(corpus, args.long, rng):
            compare(text, None)
        print(f"long texts: {compared} comparisons in all, {differences} different")
        if args.hypothesis:
            from hypothesis import HealthCheck, given, settings
            from hypothesis import strategies as st

            pieces = st.one_of(
                st.sampled_from(" ".join(corpus).split()),
                st.sampled_from(spelling_words),
                st.text(alphabet=st.sampled_from(EXTRA), max_size=5),
                st.text(max_size=3),
            )

            @settings(
                max_examples=args.hypothesis,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            @given(
                st.lists(pieces, max_size=40).map(" ".join),
                st.sampled_from((None, *LANGUAGES)),
            )
            def same(text: str, language: str | None) -> None:
                assert outcome(current, text, language) == outcome(reference, text, language)

            same()
            print(f"hypothesis: {args.hypothesis} examples, no difference")
    print(f"{compared} comparisons, {differences} different (against {args.against}); of them")
    for what, count in seen.items():
        print(f"  {count} {what}")
    sys.exit(1 if differences else 0)


if __name__ == "__main__":
    main()
