"""Cue sets, zu-infinitive negation, spelling readings and shouting, on small lexicons."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from service.ruleset.lexicons import load_cues, load_file, load_spelling
from service.ruleset.yamlsrc import parse
from service.signals.detect import Detector, one_edit
from service.signals.lexicon import CueSet, Lexicon, LexiconFile, Spelling


def build(files: dict[str, str], off: frozenset[str] = frozenset()) -> Detector:
    lexicon_files: list[LexiconFile] = []
    cue_sets: list[CueSet] = []
    spellings: list[Spelling] = []
    for path, text in files.items():
        located, issues = parse(textwrap.dedent(text), path)
        assert located is not None
        assert not issues
        if path.endswith("cues.yaml"):
            sets, problems = load_cues(path, located)
            assert sets is not None, problems
            cue_sets += sets
        elif path.endswith("spelling.yaml"):
            spelling, problems = load_spelling(path, located)
            assert spelling is not None, problems
            spellings.append(spelling)
        else:
            compiled, problems = load_file(path, located)
            assert compiled is not None, problems
            lexicon_files.append(compiled)
    return Detector(Lexicon(tuple(lexicon_files), tuple(cue_sets), tuple(spellings)), off)


LEGAL = """
    signal: legal_threat
    language: en
    phrases: ["sue (you|your company)", "call the police"]
"""
DEMAND = """
    signal: supervisor_demand
    language: en
    phrases: ["get (me)? (a|your) manager"]
"""
CUES = """
    language: en
    sets:
      reported:
        signals: [legal_threat]
        scope: sentence
        position: before
        window: 4
        cues: ["my brother (says|said)"]
      topic:
        signals: [legal_threat]
        scope: clause
        position: after
        cues: ["is over"]
      advice:
        scope: sentence
        position: either
        cues: ["if i were you"]
"""


@pytest.fixture
def cued() -> Detector:
    return build(
        {
            "rules/lexicons/en/legal_threat.yaml": LEGAL,
            "rules/lexicons/en/supervisor_demand.yaml": DEMAND,
            "rules/lexicons/en/cues.yaml": CUES,
        }
    )


def names(detector: Detector, text: str) -> list[str]:
    return [s.name for s in detector.detect(text)]


def test_a_cue_set_cancels_a_candidate_of_its_signals_within_its_window(cued: Detector) -> None:
    assert names(cued, "My brother says he will sue you.") == []
    assert names(cued, "My brother said that one day, maybe, he would sue you.") == [
        "legal_threat"
    ]  # more than four words between


def test_a_cue_set_leaves_other_signals_alone(cued: Detector) -> None:
    assert names(cued, "My brother says get me a manager.") == ["supervisor_demand"]


def test_a_cue_never_crosses_a_sentence_end(cued: Detector) -> None:
    assert names(cued, "My brother says hi. I will sue you.") == ["legal_threat"]


def test_a_clause_scope_stops_at_a_comma_and_position_after_looks_after(cued: Detector) -> None:
    assert names(cued, "The time to sue your company is over.") == []
    assert names(cued, "I will sue your company, the waiting is over.") == ["legal_threat"]
    assert names(cued, "It is over, I will sue you.") == ["legal_threat"]  # cue before


def test_a_set_without_signals_applies_to_every_signal_either_side(cued: Detector) -> None:
    assert names(cued, "If I were you I would get a manager.") == []
    assert names(cued, "Get a manager, if I were you.") == []


def test_explain_names_the_cue_set_and_its_line(cued: Detector) -> None:
    signals, cancelled = cued.explain("My brother says he will sue you.")

    assert signals == ()
    (candidate,) = cancelled
    assert (candidate.name, candidate.by) == ("legal_threat", "cue set reported")
    assert candidate.cue_source == "rules/lexicons/en/cues.yaml:9"  # the cues: line
    assert candidate.evidence == "sue you"


def test_cues_can_be_left_out_for_measuring(cued: Detector) -> None:
    plain = Detector(cued.lexicon, frozenset({"cues"}))
    assert names(plain, "My brother says he will sue you.") == ["legal_threat"]


GERMAN = """
    signal: legal_threat
    language: de
    phrases: ["verklag*", "(rufe|rufen) (die)? polizei"]
    negation:
      before: ["nicht", "keine"]
      window: 2
      infinitive: ["zu", "*zuklagen"]
      infinitive_not: ["als"]
"""


@pytest.fixture
def german() -> Detector:
    return build({"rules/lexicons/de/legal_threat.yaml": GERMAN})


@pytest.mark.parametrize(
    "text",
    [
        "Ich habe nicht vor, Sie zu verklagen.",
        "Ich denke nicht daran, Sie jemals zu verklagen.",
        "Ich habe keine Absicht, Sie einzuklagen.",
    ],
)
def test_a_negation_reaches_across_the_comma_of_a_zu_infinitive(
    german: Detector, text: str
) -> None:
    assert names(german, text) == []


@pytest.mark.parametrize(
    "text",
    [
        "Das ist nicht in Ordnung, ich werde Sie verklagen.",  # no zu-infinitive
        "Sie lassen mir keine Wahl, als Sie zu verklagen.",  # an als-clause
        "Ich warte nicht länger, das hat Folgen, Sie zu verklagen ist mein Recht.",  # two commas
    ],
)
def test_other_commas_still_stop_a_negation(german: Detector, text: str) -> None:
    assert names(german, text) == ["legal_threat"]


def test_the_infinitive_rule_can_be_left_out_for_measuring(german: Detector) -> None:
    plain = Detector(german.lexicon, frozenset({"infinitive"}))
    assert names(plain, "Ich habe nicht vor, Sie zu verklagen.") == ["legal_threat"]


SPELLING = """
    language: en
    respell: {ur: your, u: you}
    borrowings: {}
    fuzzy: true
"""
EXACT = """
    signal: supervisor_demand
    language: en
    phrases:
      - get (me)? (a|your) manager
      - {pattern: "speak to the director", exact: true}
"""


@pytest.fixture
def spelled() -> Detector:
    return build(
        {
            "rules/lexicons/en/supervisor_demand.yaml": EXACT,
            "rules/lexicons/en/spelling.yaml": SPELLING,
        }
    )


def test_chat_spellings_and_one_edit_reach_the_phrase_and_show_in_the_evidence(
    spelled: Detector,
) -> None:
    (signal,) = spelled.detect("get me ur manger")
    assert signal.evidence == "get me ur manger"
    assert signal.edits == ("ur→your (chat spelling)", "manger→manager (one edit)")


def test_one_edit_never_applies_to_short_words_endings_or_exact_phrases(spelled: Detector) -> None:
    assert names(spelled, "get me your mangr") == []  # 5 letters: too short for an edit
    assert names(spelled, "speak to the directr") == []  # exact: true
    assert names(spelled, "get me your managed") == []  # the last two letters are kept


def test_the_text_as_written_is_read_first(spelled: Detector) -> None:
    (signal,) = spelled.detect("get me your manager")
    assert signal.edits == ()


def test_a_reading_is_made_only_when_a_rewritten_word_may_reach_a_phrase(
    spelled: Detector, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.signals import detect as detect_module

    made: list[str] = []
    respelled = detect_module._respelled

    def counted(norm: Any, rewrites: Any) -> Any:
        made.append(norm.original)
        return respelled(norm, rewrites)

    monkeypatch.setattr(detect_module, "_respelled", counted)
    assert names(spelled, "the weather is nice today, thanks for the help") == []
    assert names(spelled, "u are great") == []  # "you" is in no phrase of the language
    assert made == []
    assert names(spelled, "get me ur manger") == ["supervisor_demand"]
    assert made == ["get me ur manger"]



def test_no_reading_is_made_where_every_rewritten_word_lies_on_a_written_candidate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from service.signals import detect as detect_module

    detector = build(
        {
            "rules/lexicons/en/supervisor_demand.yaml": EXACT,
            "rules/lexicons/en/abuse.yaml": """
                signal: abuse
                language: en
                phrases: ["ur (a|an)? idiot"]
            """,
            "rules/lexicons/en/spelling.yaml": SPELLING,
        }
    )
    made: list[str] = []
    respelled = detect_module._respelled

    def counted(norm: Any, rewrites: Any) -> Any:
        made.append(norm.original)
        return respelled(norm, rewrites)

    monkeypatch.setattr(detect_module, "_respelled", counted)
    # "ur" may reach "your" of the supervisor phrase, but lies on the abuse candidate:
    # a match of the reading holding it would overlap that candidate and be dropped.
    assert names(detector, "ur an idiot") == ["abuse"]
    assert made == []
    assert names(detector, "ur an idiot, get me ur manager") == ["abuse", "supervisor_demand"]
    assert made == ["ur an idiot, get me ur manager"]


GAPPED = """
    signal: legal_threat
    language: en
    phrases: ["^ (i will|i'll) call ... my ... attorney $"]
"""


def test_a_rewrite_at_the_far_end_of_the_longest_phrase_is_found_in_a_long_text() -> None:
    detector = build(
        {
            "rules/lexicons/en/legal_threat.yaml": GAPPED,
            "rules/lexicons/en/spelling.yaml": SPELLING,
        }
    )
    filler = "the weather is nice today. " * 2_000
    assert names(detector, filler + "I will call them all now, my own family atorney. ") == []
    text = filler + "I will call them all now my own family atorney. " + filler
    (signal,) = detector.detect(text)
    assert signal.evidence == "I will call them all now my own family atorney"
    assert signal.edits == ("atorney→attorney (one edit)",)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("manger", "manager", True),
        ("maanager", "manager", True),
        ("mnaager", "manager", True),
        ("manbger", "manager", True),
        ("managed", "manager", False),  # the edit is in the last two letters
        ("manager", "manager", False),
        ("mgr", "manager", False),
    ],
)
def test_one_edit(a: str, b: str, expected: bool) -> None:
    assert one_edit(a, b) is expected


RUSSIAN = """
    signal: legal_threat
    language: ru
    phrases: ["засужу", "подам ... в суд"]
"""
TRANSLIT = """
    language: ru
    transliterate: {zh: ж, a: а, s: с, u: у, z: з, p: п, o: о, d: д, m: м, v: в}
    borrowings: {"court*": суд}
"""
ARABIZI = """
    language: ar
    transliterate: {"3": ع, "^a": ا, "a$": ا, a: "", n: ن, y: ي, e: "", z: ز}
"""


def test_latin_letters_reach_a_lexicon_in_another_script() -> None:
    detector = build(
        {
            "rules/lexicons/ru/legal_threat.yaml": RUSSIAN,
            "rules/lexicons/ru/spelling.yaml": TRANSLIT,
        }
    )

    (signal,) = detector.detect("ya vas zasuzhu")
    assert signal.evidence == "zasuzhu"
    assert signal.edits == ("zasuzhu→засужу (transliterated)",)
    (signal,) = detector.detect("podam na vas v courts")
    assert "courts→суд (borrowed word)" in signal.edits
    assert names(Detector(detector.lexicon, frozenset({"transliterate"})), "ya vas zasuzhu") == []


def test_arabizi_rules_may_hold_at_a_word_start_or_end_only() -> None:
    from service.signals.detect import _transliterate

    table = tuple(
        sorted(
            {
                "3": "ع",
                "^a": "ا",
                "a$": "ا",
                "a": "",
                "n": "ن",
                "y": "ي",
                "e": "",
                "z": "ز",
            }.items(),
            key=lambda pair: -len(pair[0]),
        )
    )
    assert _transliterate("ana", table) == "انا"
    assert _transliterate("3ayez", table) == "عيز"


ANGER = """
    signal: anger
    language: en
    phrases: ["i am furious"]
    shouting: {capitals: 0.8, min_letters: 12, exclamations: 3}
"""


def test_shouting_is_one_signal_with_its_evidence() -> None:
    detector = build(
        {
            "rules/lexicons/en/anger.yaml": ANGER,
            "rules/lexicons/xx/anger.yaml": ANGER.replace("en", "xx"),
        }
    )

    (signal,) = detector.detect("WHERE IS MY REFUND, I WAITED")
    assert (signal.name, signal.language, signal.evidence) == (
        "anger",
        "und",
        "WHERE IS MY REFUND, I WAITED",
    )
    assert signal.source == "rules/lexicons/en/anger.yaml:5"
    (signal,) = detector.detect("Still nothing!!!", "xx")
    assert (signal.evidence, signal.language) == ("!!!", "xx")
    assert names(detector, "My ID is ABC-123.") == []
    assert names(detector, "Thanks!") == []


def test_a_longer_gap_reaches_further_and_no_further() -> None:
    # Chinese counts every character as a word: "你们那个快递员" is seven.
    detector = build(
        {
            "rules/lexicons/zh/physical_threat.yaml": """
                signal: physical_threat
                language: zh
                phrases: ["我知道 ...7 住哪", "我会 ... 弄死"]
            """
        }
    )

    assert names(detector, "我知道你们那个快递员住哪") == ["physical_threat"]
    assert names(detector, "我知道你们公司那个快递员住哪") == []
    assert names(detector, "我会把他弄死") == ["physical_threat"]
    assert names(detector, "我会找人把他弄死") == []  # "..." alone still reaches three
