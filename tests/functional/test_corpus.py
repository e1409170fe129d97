"""Every message of the labelled corpus gets exactly its labelled signals.

Rates (precision and recall per signal and language) are printed by
bench/signals.py; here each message is checked on its own.  A message marked
``known_error`` in the corpus must still be wrong: when a lexicon change
fixes it, the mark has to go.
"""

from __future__ import annotations

import pytest

from service.engine.catalog import SIGNALS
from service.policy import Policy
from tests.support.corpus import Message, load_corpus

MESSAGES = load_corpus()
LANGUAGES = ("en", "pl", "zh", "bg", "ar", "es", "de", "fr", "ru", "pt")
# Look-alikes every language must hold, each giving no signal (issue 10).
REQUIRED_KINDS = ("reported_speech", "hypothetical", "legal_topic", "self_directed")


@pytest.mark.parametrize("message", MESSAGES, ids=[m.id for m in MESSAGES])
def test_message_gets_exactly_its_signals(policy: Policy, message: Message) -> None:
    found = {s.name for s in policy.detector.detect(message.text)}
    if message.known_error:
        assert found != message.signals, f"fixed, remove known_error: {message.text!r}"
        pytest.xfail(message.known_error)
    assert found == message.signals, message.text


def test_the_corpus_covers_every_language_and_signal() -> None:
    for language in LANGUAGES:
        mine = [m for m in MESSAGES if m.language == language]
        assert len(mine) >= 25, f"{language}: {len(mine)} messages"
        for signal in SIGNALS:
            assert sum(signal in m.signals for m in mine) >= 5, f"{language}: few {signal} examples"
        assert sum(not m.signals for m in mine) >= 8, f"{language}: few hard negatives"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_holds_each_required_look_alike_as_a_hard_negative(language: str) -> None:
    mine = [m for m in MESSAGES if m.language == language and m.kind]
    for kind in REQUIRED_KINDS:
        of_kind = [m for m in mine if m.kind == kind]
        assert len(of_kind) >= 3, f"{language}: {len(of_kind)} {kind} look-alikes"
    # A look-alike is a hard negative by definition: it carries no signal.
    assert not [m.text for m in mine if m.signals], f"{language}: a look-alike with signals"
