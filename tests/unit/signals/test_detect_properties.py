"""Property tests: the phrase language and the detector take any text without failing.

Any Unicode message, in any language tag, is scanned by the bundled lexicons
in bounded time and yields signals whose evidence is a span of that message.
Any phrase string either compiles, to a program RE2 accepts and that searches
any text, or is refused with a ``PatternError``; a lexicon file made of such
phrases either loads or is reported as ``InvalidFiles``, and then detects on
any text.  Each example has a deadline: a bound on a hang, not a speed test.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from service.policy import Policy
from service.ruleset.bundle import Bundle
from service.ruleset.issues import InvalidFiles
from service.ruleset.loader import load_bundle
from service.signals.detect import Detector
from service.signals.normalize import normalize
from service.signals.patterns import PatternError, build_one, compile_cue, compile_phrase
from tests.unit.ruleset.test_loader_properties import VALID_RULES

pytestmark = pytest.mark.slow

BOUNDED = settings(
    max_examples=200,
    deadline=timedelta(seconds=10),
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
LANGUAGES = st.none() | st.sampled_from(["en", "pl", "zh", "ar", "pt-BR", "xx", ""]) | st.text(
    max_size=8
)
# Words the lexicons hold, mixed into arbitrary text so that scans go past the prefilter.
WORDS = st.sampled_from(
    [
        "manager", "supervisor", "sue", "lawyer", "kill", "idiot", "kierownik", "经理", "not",
        "never", "speak to your", "I will", "!", ",", "...", " ", "\u0301", "İ", "ß", "\u200b",
    ]
)
MESSAGES = st.lists(st.text(max_size=30) | WORDS, max_size=30).map("".join)
PHRASE_CHARS = st.sampled_from([*"abcdeklmnorsuwyz ()|?*.^$@,'-…经理杀", "\\", "...", "ż"])
PHRASES = st.text(max_size=60) | st.lists(PHRASE_CHARS, max_size=40).map("".join)


@given(text=MESSAGES, language=LANGUAGES)
@example(text="I want to speak to your manager" * 600, language=None)
@example(text="\u0301" * 5000 + "manager", language="en")
@BOUNDED
def test_any_message_is_scanned_and_evidence_is_a_span_of_it(
    policy: Policy, text: str, language: str | None
) -> None:
    signals = policy.detector.detect(text, language)

    for signal in signals:
        assert 0 <= signal.start < signal.end <= len(text)
        assert signal.evidence == text[signal.start : signal.end]
        assert signal.name in policy.detector.lexicon.signals


@given(phrase=PHRASES, text=MESSAGES)
@example(phrase="(" * 300 + "manager" + ")" * 300, text="manager")
@example(phrase="manager" + "?" * 200, text="")
@example(phrase="a* " * 100, text="a" * 100)
@BOUNDED
def test_any_phrase_compiles_to_a_program_or_is_refused(phrase: str, text: str) -> None:
    for compile_ in (compile_phrase, compile_cue):
        try:
            regex = compile_(phrase)
        except PatternError as exc:
            refused = str(exc)
        else:
            refused = ""
            build_one(regex).search(normalize(text).exact.data)
        assert refused or regex


@given(phrases=st.lists(PHRASES, min_size=1, max_size=5), text=MESSAGES)
@BOUNDED
def test_a_lexicon_of_any_phrases_loads_or_is_reported_then_detects(
    phrases: list[str], text: str
) -> None:
    lexicon = {"signal": "abuse", "language": "en", "phrases": phrases}
    files = {
        "base.yaml": VALID_RULES,
        "lexicons/en/abuse.yaml": yaml.safe_dump(lexicon, allow_unicode=True),
    }
    try:
        loaded = load_bundle(Bundle.from_text(files))
    except InvalidFiles as exc:
        issues = exc.issues
    else:
        issues = []
        for signal in Detector(loaded.lexicon).detect(text, "en"):
            assert signal.evidence == text[signal.start : signal.end]
    assert all(issue.file == "rules/lexicons/en/abuse.yaml" for issue in issues), issues


def test_a_lexicon_of_plain_phrases_does_load_and_detect() -> None:
    lexicon = {"signal": "abuse", "language": "en", "phrases": ["you are an idiot"]}
    files = {"base.yaml": VALID_RULES, "lexicons/en/abuse.yaml": yaml.safe_dump(lexicon)}

    loaded = load_bundle(Bundle.from_text(files))

    found = Detector(loaded.lexicon).detect("well, you are an idiot", "en")
    assert [s.evidence for s in found] == ["you are an idiot"]
