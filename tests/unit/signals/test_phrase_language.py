"""The phrase language at work on messages: commas, anchors, lists, negation cues."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from service.ruleset.lexicons import load_file
from service.ruleset.yamlsrc import parse
from service.signals.detect import Detector
from service.signals.lexicon import Lexicon


def detector(**files: str) -> Detector:
    loaded = []
    for name, text in files.items():
        located, issues = parse(textwrap.dedent(text), f"rules/lexicons/xx/{name}.yaml")
        assert not issues
        lexicon, problems = load_file(f"rules/lexicons/xx/{name}.yaml", located)  # type: ignore[arg-type]
        assert lexicon is not None, problems
        loaded.append(lexicon)
    return Detector(Lexicon(tuple(loaded)))


SUPERVISOR = """
    signal: supervisor_demand
    language: xx
    lists:
      bosses: [manager*, supervisor*, "person in charge", руководител*]
    phrases:
      - (get|call) (me)? (your|the)? @bosses
      - позовит* , пожалуйста? , @bosses
      - need (a|the|your) @bosses
      - ^ boss $
    negation:
      before: ["no", "do not need"]
      window: 1
"""
LEGAL = """
    signal: legal_threat
    language: xx
    phrases:
      - (sie|dich) zu verklagen
      - sue (you|your company)
      - aller au tribunal
      - vou processar
    negation:
      before: ["nicht vor", "not going to sue", "not", "pas l'intention (de|d')", "não vou", {pattern: "não", window: 0}]
      window: 2
      cross_commas: true
"""


@pytest.fixture
def found() -> object:
    d = detector(supervisor_demand=SUPERVISOR, legal_threat=LEGAL)
    return lambda text: [(s.name, s.evidence) for s in d.detect(text)]


def test_a_comma_in_a_phrase_marks_where_one_may_stand(found) -> None:  # type: ignore[no-untyped-def]
    assert found("Позовите, пожалуйста, руководителя.") == [
        ("supervisor_demand", "Позовите, пожалуйста, руководителя")
    ]
    assert found("позовите руководителя") == [("supervisor_demand", "позовите руководителя")]


def test_elsewhere_a_comma_ends_the_phrase(found) -> None:  # type: ignore[no-untyped-def]
    assert found("Please call, your manager said so.") == []


def test_gaps_and_sentence_ends_are_not_crossed(found) -> None:  # type: ignore[no-untyped-def]
    assert found("Call me. Your manager was nice.") == []


def test_a_whole_clause_phrase_matches_only_the_whole_clause(found) -> None:  # type: ignore[no-untyped-def]
    assert found("Boss!") == [("supervisor_demand", "Boss")]
    assert found("Hey, boss, listen") == [("supervisor_demand", "boss")]
    assert found("my boss said so") == []


def test_lists_stand_for_their_alternatives(found) -> None:  # type: ignore[no-untyped-def]
    assert found("get me the person in charge") == [
        ("supervisor_demand", "get me the person in charge")
    ]


def test_a_longer_cue_is_not_hidden_by_a_shorter_one(found) -> None:  # type: ignore[no-untyped-def]
    # "not" and "not going to sue" both start at "not"; each cue is looked for on its own.
    assert found("I am not going to sue you at all") == []


def test_a_cue_may_end_on_the_first_word_of_the_phrase(found) -> None:  # type: ignore[no-untyped-def]
    # The cue "do not need" ends on "need", the first word of "need a manager".
    assert found("I need a manager") == [("supervisor_demand", "need a manager")]
    assert found("I do not need a manager") == []


def test_negation_crosses_a_comma_only_where_the_file_allows_it(found) -> None:  # type: ignore[no-untyped-def]
    assert found("Ich habe nicht vor, Sie zu verklagen.") == []  # cross_commas: true
    assert found("No, get me your manager.") == [("supervisor_demand", "get me your manager")]


def test_load_file_reports_a_bad_list(tmp_path: Path) -> None:
    located, _ = parse(
        'signal: abuse\nlanguage: xx\nlists:\n  bad: ["a...b"]\nphrases: [idiots]\n', "x.yaml"
    )
    lexicon, problems = load_file("rules/lexicons/xx/abuse.yaml", located)  # type: ignore[arg-type]

    assert lexicon is None
    assert "list bad" in problems[0].message


def test_a_french_elision_is_a_word_of_its_own(found) -> None:  # type: ignore[no-untyped-def]
    assert found("J'ai décidé d'aller au tribunal.") == [("legal_threat", "aller au tribunal")]
    assert found("Je n'ai pas l'intention d'aller au tribunal.") == []


def test_each_negation_cue_may_have_its_own_window(found) -> None:  # type: ignore[no-untyped-def]
    assert found("Não vou processar ninguém") == []
    # "não" reaches no further than the next word; "Se não pagarem vou processar" is a threat.
    assert found("Se não pagarem vou processar vocês") == [("legal_threat", "vou processar")]


def test_a_lexicon_too_large_for_one_program_is_prefiltered_in_several(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from service.signals import detect as detect_module

    monkeypatch.setattr(detect_module, "PREFILTER_CHUNK", 1)
    d = detector(supervisor_demand=SUPERVISOR, legal_threat=LEGAL)

    assert len(d._sets.sets) == 8  # one set per phrase
    assert len(d._sets.fallback) == 8  # and one program per phrase for long texts
    assert [s.name for s in d.detect("get me your manager and I will sue you")] == [
        "supervisor_demand",
        "legal_threat",
    ]
