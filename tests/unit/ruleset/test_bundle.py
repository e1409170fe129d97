"""Rule bundles: which files belong, and a revision that depends on contents, not folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from service.ruleset import loader
from service.ruleset.bundle import Bundle, role_of
from service.ruleset.issues import InvalidFiles
from tests.factories import RULES


def test_identical_files_in_two_folders_have_one_revision(tmp_path: Path) -> None:
    first = shutil.copytree(RULES, tmp_path / "rules")
    second = shutil.copytree(RULES, tmp_path / "elsewhere" / "candidate-rules")

    assert Bundle.from_directory(first).revision == Bundle.from_directory(second).revision
    assert loader.load(first).ruleset.revision == loader.load(second).ruleset.revision


def test_a_changed_byte_or_a_moved_file_changes_the_revision(tmp_path: Path) -> None:
    root = shutil.copytree(RULES, tmp_path / "rules")
    before = Bundle.from_directory(root).revision
    limits = root / "limits.yaml"
    limits.write_text(limits.read_text() + "\n")
    edited = Bundle.from_directory(root).revision
    limits.rename(root / "limits2.yaml")

    assert len({before, edited, Bundle.from_directory(root).revision}) == 3


def test_rule_tests_are_not_part_of_the_bundle(tmp_path: Path) -> None:
    root = shutil.copytree(RULES, tmp_path / "rules")
    before = Bundle.from_directory(root)
    (root / "tests" / "extra.yaml").write_text("tests: []\n")

    assert Bundle.from_directory(root).revision == before.revision
    assert not any(path.startswith("tests/") for path in before.files)
    assert "limits.yaml" in before.files
    assert "lexicons/en/abuse.yaml" in before.files


@pytest.mark.parametrize(
    ("path", "role"),
    [
        ("limits.yaml", "rules"),
        ("defaults.yaml", "defaults"),
        ("lexicons/pl/abuse.yaml", "lexicon"),
        ("tests/limits.yaml", None),
        ("notes.txt", None),
        ("other/limits.yaml", None),
    ],
)
def test_roles_of_paths(path: str, role: str | None) -> None:
    assert role_of(path) == role


def test_a_bundle_from_text_round_trips_and_loads() -> None:
    bundle = Bundle.from_directory(RULES)
    again = Bundle.from_text(bundle.as_text())

    assert again.revision == bundle.revision
    assert loader.load_bundle(again).ruleset.revision == bundle.revision


def test_files_that_are_not_rules_are_refused_with_their_path() -> None:
    files = dict(Bundle.from_directory(RULES).as_text())
    files["../escape.yaml"] = "rules: []"
    files["notes.txt"] = "hello"

    with pytest.raises(InvalidFiles) as caught:
        loader.load_bundle(Bundle.from_text(files))

    flagged = {issue.file for issue in caught.value.issues}
    assert {"rules/../escape.yaml", "rules/notes.txt"} <= flagged
