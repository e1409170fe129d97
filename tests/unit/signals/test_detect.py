"""Signal detection with the bundled lexicons: demands, not mentions; evidence spans."""

from __future__ import annotations

import pytest

from service.policy import Policy
from service.ruleset.modelfile import bundled
from service.signals.detect import Detector
from service.signals.normalize import normalize


def names(policy: Policy, text: str, language: str | None = None) -> list[str]:
    return [s.name for s in policy.detector.detect(text, language)]


@pytest.mark.parametrize(
    ("text", "signal"),
    [
        ("I want to speak to your manager!", "supervisor_demand"),
        ("Put your SUPERVISOR on the phone.", "supervisor_demand"),
        ("If this is not fixed I will sue your company.", "legal_threat"),
        ("You will hear from my lawyer.", "legal_threat"),
        ("I will kill you", "physical_threat"),
        ("I know where you live.", "physical_threat"),
        ("You are an idiot", "abuse"),
    ],
)
def test_signals_are_found(policy: Policy, text: str, signal: str) -> None:
    assert signal in names(policy, text)


@pytest.mark.parametrize(
    "text",
    [
        "My manager asked me to call about the invoice.",
        "I'm not going to sue anyone, I just want my money back.",
        "This price is killing me.",
        "The new search is a killer feature.",
        "I feel like an idiot, I forgot my password.",
        "I don't need a manager, just a refund.",
    ],
)
def test_look_alikes_raise_no_signal(policy: Policy, text: str) -> None:
    assert names(policy, text) == []


def test_evidence_is_the_span_of_the_original_text(policy: Policy) -> None:
    text = "Hello.  I want to SPEAK to your Manager, please!"
    (signal,) = policy.detector.detect(text)

    assert signal.evidence == "I want to SPEAK to your Manager"
    assert text[signal.start : signal.end] == signal.evidence
    assert signal.language == "en"
    assert signal.source.startswith("rules/lexicons/en/supervisor_demand.yaml:")


def test_a_phrase_does_not_match_across_a_sentence_end(policy: Policy) -> None:
    phrases_only = Detector(policy.detector.lexicon, frozenset({"model"}))
    text = "I want to speak. To your manager I said nothing."
    assert phrases_only.detect(text) == ()


def test_a_rejected_match_does_not_hide_a_later_one(policy: Policy) -> None:
    # "I won't sue" is negated; "sue your company" later in the text is not.
    assert names(policy, "I won't sue... no wait, I will sue your company") == ["legal_threat"]


def test_a_language_hint_narrows_the_search(policy: Policy) -> None:
    assert names(policy, "I will sue you", language="en-GB") == ["legal_threat"]
    # The hint narrows the lexicons; the model reads every language and may still speak.
    signals = policy.detector.detect("I will sue you", language="pl")
    assert all(s.source.startswith(bundled().source + ":") for s in signals)


def test_normalisation_folds_case_width_and_arabic_letters() -> None:
    norm = normalize("ＣＨＣĘ Rozmawiać — أإآ ـمـ ة")
    assert [t.text for t in norm.tokens] == ["chcę", "rozmawiać", "ااا", "م", "ه"]
    assert [t.bare for t in norm.tokens][:2] == ["chce", "rozmawiac"]


def test_chinese_is_one_token_per_character() -> None:
    assert [t.text for t in normalize("我要找经理。").tokens] == ["我", "要", "找", "经", "理", "|"]


def test_absurdly_long_tokens_match_nothing() -> None:
    assert normalize("a" * 10_000).tokens[0].text == "#"


@pytest.mark.parametrize(
    "text", ["J'ai l'intention", "ＣＨＣĘ, Rozmawiać!", "我要找经理。", "don't STOP", "أإآ ـمـ ة"]
)
def test_phrase_words_are_tokenised_exactly_like_messages(text: str) -> None:
    from service.signals.normalize import word_tokens

    assert word_tokens(text) == [t.text for t in normalize(text).tokens]


def test_a_mixed_language_message_gets_each_signal_with_its_language(policy: Policy) -> None:
    found = {
        (s.name, s.language)
        for s in policy.detector.detect(
            "Chcę rozmawiać z kierownikiem! Otherwise I will sue your company."
        )
    }

    assert found == {("supervisor_demand", "pl"), ("legal_threat", "en")}
