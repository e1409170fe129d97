"""``escalation check``: every problem of a rules directory in one pass, or a short summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.cli import main
from tests.factories import rules_dir

RULE = """
    rules:
      - id: triage
        title: t
        description: d
        priority: high
        when: {case.complexty: {gte: 3}}
        then: {guidance: "Topic is {case.topc}"}
"""


def test_check_prints_every_problem_with_line_column_and_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = rules_dir(tmp_path, {"triage.yaml": RULE})

    status = main(["check", str(root)])

    err = capsys.readouterr().err
    assert status == 1
    assert f"3 problem(s) in {root}:" in err
    assert "rules/triage.yaml:5:15: rule triage, priority: expected a whole number" in err
    assert (
        "rules/triage.yaml:6:28: rule triage, when.case.complexty: "
        'unknown field "case.complexty" (did you mean "case.complexity"?)'
    ) in err
    assert (
        "rules/triage.yaml:7:22: rule triage, then.guidance[0]: "
        'unknown placeholder "{case.topc}" (did you mean "{case.topic}"?)'
    ) in err


def test_check_summarises_a_valid_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fixed = RULE.replace("high", "60").replace("complexty", "complexity").replace("topc", "topic")
    root = rules_dir(tmp_path, {"triage.yaml": fixed})

    assert main(["check", str(root)]) == 0
    assert capsys.readouterr().out.startswith("ok: 1 rules, ")
