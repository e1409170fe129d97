"""Measure text signals on the labelled corpus: precision and recall, and matching speed.

    .venv/bin/python bench/signals.py [--language pl] [--show-errors] [--seconds 2]
        [--corpus bench/heldout2] [--off cues,fuzzy] [--no-speed] [--profile]

Prints, per language and signal, true and false positives, misses, precision
and recall over tests/corpus/*.yaml (messages marked known_error included),
then per signal, per language and overall (over the signals the corpus
labels at all; a signal it never labels shows only its false positives);
then the matching throughput in messages per second over the corpus, and
the time to scan texts of growing length, which stays linear in the length.
Times are this process's CPU time, so a busy shared machine slows the
figures less than wall-clock time would.
``--off`` leaves detector mechanisms out (cues, infinitive, respell,
transliterate, fuzzy, borrowings), to show what each costs and finds.
``--profile`` prints instead where the time goes (cProfile, by own time)
over three passes of the corpus and over one 100,000-character text.
It asserts nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.engine.catalog import SIGNALS  # noqa: E402
from service.policy import build_policy  # noqa: E402
from service.ruleset.modelfile import bundled  # noqa: E402
from service.signals.detect import MECHANISMS, Detector  # noqa: E402
from tests.support.corpus import load_corpus  # noqa: E402


def ratio(numerator: int, denominator: int) -> str:
    return f"{numerator / denominator:.2f}" if denominator else "  - "


def long_text(texts: list[str], size: int, rng: random.Random) -> str:
    """Return a text of ``size`` characters: corpus words, 50 to a sentence."""
    words = " ".join(texts).split()
    text = ""
    while len(text) < size:
        text += " ".join(rng.choice(words) for _ in range(50)) + ". "
    return text[:size]


def profile(detector: Detector, texts: list[str]) -> None:
    """Print where detection spends its time, over the corpus and over one long text."""
    for text in texts:
        detector.detect(text)  # compile on first use, as a running service has
    rng = random.Random(3)
    for label, work in (
        ("three passes over the corpus", texts * 3),
        ("one text of 100,000 characters", [long_text(texts, 100_000, rng)]),
    ):
        profiler = cProfile.Profile()
        profiler.enable()
        for text in work:
            detector.detect(text)
        profiler.disable()
        print(f"\n{label}:")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--language", help="only this language")
    parser.add_argument("--show-errors", action="store_true", help="list every wrong message")
    parser.add_argument(
        "--seconds", type=float, default=2.0, help="time for the throughput measure"
    )
    parser.add_argument("--rules", type=Path, default=ROOT / "rules", help="rules directory")
    parser.add_argument(
        "--corpus", type=Path, default=ROOT / "tests" / "corpus", help="corpus directory"
    )
    parser.add_argument(
        "--off", default="", help=f"mechanisms to leave out (comma-separated): {MECHANISMS}"
    )
    parser.add_argument("--no-speed", action="store_true", help="skip the speed measures")
    parser.add_argument("--profile", action="store_true", help="profile instead of measuring")
    args = parser.parse_args()

    off = frozenset(m for m in args.off.split(",") if m)
    if off - set(MECHANISMS):
        parser.error(f"unknown mechanisms: {', '.join(sorted(off - set(MECHANISMS)))}")
    detector = Detector(build_policy(args.rules.resolve()).detector.lexicon, off, bundled())
    messages = [
        m for m in load_corpus(args.corpus) if not args.language or m.language == args.language
    ]
    if args.profile:
        profile(detector, [m.text for m in messages])
        return
    counts: Counter[tuple[str, str, str]] = Counter()
    errors = []
    for message in messages:
        found = {s.name for s in detector.detect(message.text)}
        for signal in SIGNALS:
            truth, guess = signal in message.signals, signal in found
            kind = "tp" if truth and guess else "fp" if guess else "fn" if truth else "tn"
            counts[(message.language, signal, kind)] += 1
        if found != set(message.signals):
            errors.append((message, found))

    languages = sorted({m.language for m in messages})
    print(
        f"{'lang':<5} {'signal':<18} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>10} {'recall':>7}"
    )
    worst_p, worst_r = 1.0, 1.0
    for language in languages:
        for signal in SIGNALS:
            tp, fp, fn = (counts[(language, signal, k)] for k in ("tp", "fp", "fn"))
            if tp + fp:
                worst_p = min(worst_p, tp / (tp + fp))
            if tp + fn:
                worst_r = min(worst_r, tp / (tp + fn))
            print(
                f"{language:<5} {signal:<18} {tp:>4} {fp:>4} {fn:>4} "
                f"{ratio(tp, tp + fp):>10} {ratio(tp, tp + fn):>7}"
            )
    labelled = [s for s in SIGNALS if any(s in m.signals for m in messages)]

    def line(label: str, keys: list[tuple[str, str]]) -> str:
        tp, fp, fn = (sum(counts[(lang, sig, k)] for lang, sig in keys) for k in ("tp", "fp", "fn"))
        return (
            f"{label:<24} {tp:>4} {fp:>4} {fn:>4} {ratio(tp, tp + fp):>10} {ratio(tp, tp + fn):>7}"
        )

    print(f"\n{'per signal':<24} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>10} {'recall':>7}")
    for signal in SIGNALS:
        note = "" if signal in labelled else "  (never labelled here: false positives only)"
        print(line(signal, [(lang, signal) for lang in languages]) + note)
    print(f"\n{'per language':<24} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>10} {'recall':>7}")
    for language in languages:
        print(line(language, [(language, sig) for sig in labelled]))
    print(line("\noverall", [(lang, sig) for lang in languages for sig in labelled]))
    if off:
        print(f"(mechanisms off: {', '.join(sorted(off))})")
    total = len(messages)
    negatives = sum(1 for m in messages if not m.signals)
    print(
        f"\n{total} messages ({negatives} without any signal) in {len(languages)} languages; "
        f"lowest precision {worst_p:.2f}, lowest recall {worst_r:.2f}; {len(errors)} messages wrong"
    )

    if args.show_errors:
        for message, found in errors:
            print(
                f"  {message.id}: expected {sorted(message.signals) or '-'}, "
                f"found {sorted(found) or '-'}: "
                f"{message.text!r}"
                + (f"  [known: {message.known_error}]" if message.known_error else "")
            )

    if args.no_speed:
        return
    texts = [m.text for m in messages]
    calls, started = 0, time.process_time()
    while time.process_time() - started < args.seconds:
        detector.detect(texts[calls % len(texts)])
        calls += 1
    elapsed = time.process_time() - started
    print(
        f"\nthroughput: {calls / elapsed:,.0f} messages/s over the corpus "
        f"(mean {sum(map(len, texts)) / len(texts):.0f} characters, "
        f"all {len(detector.lexicon.files)} lexicon files searched)"
    )

    rng = random.Random(3)
    print(f"\n{'characters':>11} {'ms':>9} {'µs per 1,000 characters':>25}")
    for size in (1_000, 10_000, 100_000, 1_000_000):
        text = long_text(texts, size, rng)
        began = time.process_time()
        detector.detect(text)
        spent = time.process_time() - began
        print(f"{size:>11,} {spent * 1000:>9.1f} {spent * 1e6 / (size / 1000):>25.1f}")


if __name__ == "__main__":
    main()
