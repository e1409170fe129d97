"""The trained signal model: its features, its file, and its place behind the lexicon."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.config import PROJECT_ROOT
from service.ruleset.modelfile import bundled, load
from service.signals.detect import Detector
from service.signals.model import corpus_digest, features
from tests.support.corpus import CORPUS
from tests.unit.signals.test_mechanisms import CUES, LEGAL, build

HEADER = (
    "# trained_by\ttest\n"
    f"# corpus_sha256\t{'0' * 64}\n"
    "# signals\tlegal_threat\tphysical_threat\n"
    "# bias\t-3\t-3\n"
    "# threshold\t0.9\t0.9\n"
)
# Scores: bias -3 plus the weights found over the square root of the message's feature count.
ROWS = "w:regret\t0\t40\nw:sue\t80\t0\n#ha\t0\t0\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "model.tsv"
    path.write_text(text, encoding="utf-8")
    return path


def test_features_are_words_pairs_and_letter_sequences_within_a_word() -> None:
    found = features("You WILL regret")
    assert {"w:you", "w:will", "w:regret", "w:you will", "w:will regret"} <= found
    assert {" you", "you ", " reg", "egre", "ret "} <= found  # four letters, padded at the edges
    assert "egr" not in found
    assert "w:you regret" not in found  # pairs are neighbours only
    assert not any(" " in f.strip() for f in found if not f.startswith("w:"))  # never across words


def test_a_feature_over_its_threshold_is_found_with_its_line(tmp_path: Path) -> None:
    model = load(write(tmp_path, HEADER + ROWS))
    [finding] = model.score("you will regret this")
    assert (finding.name, finding.feature, finding.line) == ("physical_threat", "w:regret", 6)
    assert finding.score > 0.9
    assert model.score("you will regret this", skip=("physical_threat",)) == []


def test_nothing_is_found_below_the_threshold_or_without_a_known_feature(tmp_path: Path) -> None:
    model = load(write(tmp_path, HEADER + ROWS))
    assert model.score("hello there") == []
    # The same word in a long message weighs less: one over the root of its feature count.
    long = "regret " + " ".join(f"word{i}" for i in range(200))
    assert model.score(long) == []


def test_a_header_line_after_the_first_feature_is_a_feature(tmp_path: Path) -> None:
    model = load(write(tmp_path, HEADER + ROWS))
    assert "#ha" in model.weights


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (HEADER + "w:sue\t1\n", "model.tsv:6: expected 2 weights, found 1"),
        (HEADER + "w:sue\t1\tmany\n", "model.tsv:6: a weight is not a number"),
        (HEADER.replace("0.9\t0.9", "0.9\t1.5"), "model.tsv: header: {'threshold'"),
        (HEADER.replace("-3\t-3", "-3"), "bias and threshold need one value per signal"),
        (HEADER.replace("physical_threat", "phyiscal_threat"), "model.tsv: header: {'signals'"),
    ],
)
def test_a_malformed_model_names_its_file_and_line(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(ValueError, match=r"model\.tsv") as raised:
        load(write(tmp_path, text))
    assert says in str(raised.value)


def test_a_model_file_is_named_from_the_project_root_when_inside_it(tmp_path: Path) -> None:
    assert bundled().source == "service/signals/data/model.tsv"
    assert (PROJECT_ROOT / bundled().source).is_file()
    assert load(write(tmp_path, HEADER + ROWS)).source == str(tmp_path / "model.tsv")


def test_the_bundled_model_was_trained_on_the_corpus_as_it_is() -> None:
    assert bundled().corpus == corpus_digest(CORPUS.glob("*.yaml")), (
        "tests/corpus changed since the model was trained: "
        "run PYTHONPATH=$PWD .venv/bin/python bench/train_model.py (needs '.[train]')"
    )


@pytest.fixture
def modelled(tmp_path: Path) -> Detector:
    lexicon = build(
        {"rules/lexicons/en/legal_threat.yaml": LEGAL, "rules/lexicons/en/cues.yaml": CUES}
    ).lexicon
    return Detector(lexicon, model=load(write(tmp_path, HEADER + ROWS)))


def test_the_model_adds_what_the_lexicon_missed_with_evidence(modelled: Detector) -> None:
    [signal] = modelled.detect("You will Regret this")
    assert signal.name == "physical_threat"
    assert (signal.evidence, signal.start, signal.end) == ("Regret", 9, 15)
    assert modelled.model is not None
    assert signal.source == f"{modelled.model.source}:6"
    assert signal.entry.startswith("model (")
    assert signal.entry.endswith("): regret")


def test_the_lexicon_has_the_last_word(modelled: Detector) -> None:
    # The lexicon's own match stands, and the model adds no second one of that signal.
    [signal] = modelled.detect("i will sue you")
    assert signal.source.startswith("rules/lexicons/en/legal_threat.yaml")
    # Someone else's threat, cancelled by a cue set, is not brought back by the model.
    signals, cancelled = modelled.explain("my brother says he will sue you")
    assert signals == ()
    assert [c.by for c in cancelled] == ["cue set reported"]
    assert modelled.detect("my brother says he will sue you") == ()


def test_a_detector_without_the_model_mechanism_leaves_it_out(tmp_path: Path) -> None:
    lexicon = build({"rules/lexicons/en/legal_threat.yaml": LEGAL}).lexicon
    model = load(write(tmp_path, HEADER + ROWS))
    assert Detector(lexicon, frozenset({"model"}), model).detect("you will regret this") == ()
