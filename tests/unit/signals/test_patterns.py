"""The lexicon phrase language: what compiles, and what is refused as unsafe."""

from __future__ import annotations

import pytest

from service.signals.patterns import PatternError, compile_cue, compile_phrase, max_tokens, parse


@pytest.mark.parametrize(
    ("phrase", "reason"),
    [
        ("sue", "needs at least 5 letters"),
        ("fu*", "shorter than 3 letters"),
        ("(a|the)? manager?", "every word of the phrase is optional"),
        ("... sue you", 'cannot begin or end with "..."'),
        ("(manager|)", "empty alternative"),
        ("(manager", "never closed"),
        ("kie*row", '"*" may stand only at the start or end'),
        ("杀", "needs at least 2 Chinese"),
        ("经理*", '"*" cannot be used with Chinese'),
        ("a to", "needs at least 4 letters"),
        ("sue. you", "punctuation"),
        ("a " * 400, "longer than 600"),
        ("^ sue", "needs at least 5 letters"),
        ("sue ^", "may only start a phrase"),
        ("@nope manager", "unknown list"),
        ("sue ...11 court", "a gap reaches 1 to 10 words"),
        ("sue ...0 court", "a gap reaches 1 to 10 words"),
    ],
)
def test_unsafe_or_malformed_phrases_are_refused_with_a_reason(phrase: str, reason: str) -> None:
    with pytest.raises(PatternError, match=reason):
        compile_phrase(phrase)


@pytest.mark.parametrize(
    "phrase",
    [
        "speak to (a|the|your) manager",
        "kierowni*",
        "*قاضيكم",
        "سوف *قاضي*",
        "找经理",
        "(sue|suing) you ... court",
        "lawsuit",
    ],
)
def test_reasonable_phrases_compile(phrase: str) -> None:
    assert compile_phrase(phrase)


def test_negation_cues_may_be_short_words() -> None:
    assert compile_cue("not")
    assert compile_cue("不")


def test_a_whole_clause_may_be_a_short_word() -> None:
    assert compile_phrase("^ сука $")
    assert compile_phrase("^ 滚 $")


def test_lists_are_named_alternatives() -> None:
    from service.signals.patterns import parse_list

    lists = {"bosses": parse_list(["manager*", "supervisor*", "team lead"])}

    assert compile_phrase("(speak|talk) to (your|a) @bosses", lists=lists)
    with pytest.raises(PatternError, match='did you mean "@bosses"'):
        compile_phrase("speak to @boses", lists=lists)
    with pytest.raises(PatternError, match="cannot be used in a list item"):
        parse_list(["manager ... now"])


@pytest.mark.parametrize(
    ("phrase", "tokens"),
    [
        ("get (me)? (a|your) manager", 4),
        ("^ (i will|i'll) call ... my ... attorney $", 13),  # a gap is up to three words
        ("позовите , пожалуйста , руководител*", 5),  # a comma is a token of its own
        ("kierowni*", 1),
        ("call ...8 attorney", 10),  # ...N reaches N words
    ],
)
def test_a_phrase_knows_how_many_tokens_its_matches_span_at_most(phrase: str, tokens: int) -> None:
    assert max_tokens(parse(phrase)) == tokens


def test_a_gap_may_say_how_far_it_reaches() -> None:
    from service.signals.patterns import parse_list

    assert max_tokens(parse("我知道 ...6 住哪")) == 3 + 6 + 2
    with pytest.raises(PatternError, match="cannot be used in a list item"):
        parse_list(["manager ...5 now"])
