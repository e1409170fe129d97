"""``escalation lint`` and ``escalation test`` as rule authors run them: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.cli import main
from tests.factories import BROKEN_RULE_FILE, rules_dir

DEMAND_RULE = """
    rules:
      - id: demand
        title: Customer demands a supervisor
        description: The customer asks for someone higher.
        priority: 70
        when:
          signals: {contains: supervisor_demand}
        then:
          escalate: supervisor
          route_to: supervisors
          priority: high
          cooldown: 1h
          guidance: Hand over.
      - id: threats
        title: Threats keep coming
        description: A second threat in the case.
        priority: 60
        when:
          case.threats: {gte: 2}
        then:
          escalate: legal
          guidance: Tell legal.
"""
DEMAND_TESTS = """
    tests:
      - name: a manager demand in Polish
        event: {type: customer_message, channel: chat, text: "Chcę rozmawiać z kierownikiem."}
        expect: {fires: [demand], outcome: escalate}
      - name: near miss
        event: {type: customer_message, channel: chat, text: "Mój kierownik kazał mi zadzwonić."}
        expect: {does_not_fire: [demand], outcome: none}
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def demand_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a rules directory with a tested rule and an untested one that repeats."""
    return rules_dir(
        tmp_path_factory.mktemp("demand"),
        {"rules.yaml": DEMAND_RULE, "tests/demand.yaml": DEMAND_TESTS},
    )


def test_warnings_alone_exit_zero_and_strict_makes_them_fail(
    capsys: pytest.CaptureFixture[str], demand_dir: Path
) -> None:
    status, out, _ = run(capsys, "lint", str(demand_dir))

    assert status == 0
    lines = out.splitlines()
    assert "rules/rules.yaml:19: warning [repeats]: rule threats, when.case.threats:" in out
    assert "    fix: add a cool-down under then, such as `cooldown: 1h`" in out
    assert "rules/rules.yaml:14: warning [untested]: rule threats:" in out
    assert lines[-1] == f"0 error(s), 2 warning(s) in {demand_dir}"

    assert run(capsys, "lint", "--strict", str(demand_dir))[0] == 1


def test_errors_exit_one_and_are_listed_with_the_warnings(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = rules_dir(
        tmp_path,
        {
            "complaints.yaml": BROKEN_RULE_FILE,
            "lexicons/en/abuse.yaml": """
                signal: abuse
                language: en
                phrases: [you idiot, You IDIOT]
            """,
        },
        lexicons=False,
    )

    status, out, _ = run(capsys, "lint", "--rules", str(root))

    assert status == 1
    assert "rules/complaints.yaml:8: error: rule repeated-complaints, when.all[1]" in out
    assert 'rules/complaints.yaml:2: error: rule repeated-complaints: "then" is missing' in out
    assert "rules/lexicons/en/abuse.yaml:3: warning [duplicate-phrase]" in out
    assert out.splitlines()[-1] == f"2 error(s), 1 warning(s) in {root}"


def test_json_lines_carry_every_field(capsys: pytest.CaptureFixture[str], demand_dir: Path) -> None:
    status, out, _ = run(capsys, "lint", "--json", str(demand_dir))

    findings = [json.loads(line) for line in out.splitlines()]
    assert status == 0
    assert {f["kind"] for f in findings} == {"repeats", "untested"}
    assert all(
        set(f) == {"severity", "kind", "file", "line", "rule", "where", "message", "hint"}
        for f in findings
    )


def test_the_bundled_pack_lints_without_errors(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "lint")

    assert status == 0
    assert out.splitlines()[-1].startswith("0 error(s), ")


def test_passing_tests_end_with_the_coverage_line(
    capsys: pytest.CaptureFixture[str], demand_dir: Path
) -> None:
    status, out, _ = run(capsys, "test", str(demand_dir))

    assert status == 0
    assert out.splitlines()[-2:] == [
        "2 passed, 0 failed",
        "coverage: 1 of 2 rules have a firing test and a near miss; "
        "missing: threats (no firing test, no near miss)",
    ]


def test_a_failure_shows_expected_and_got_with_the_rule_and_its_why(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = rules_dir(
        tmp_path,
        {
            "rules.yaml": DEMAND_RULE,
            "tests/wrong.yaml": """
                tests:
                  - name: a polite question
                    event: {type: customer_message, channel: chat, text: "Chcę rozmawiać z kierownikiem."}
                    expect:
                      does_not_fire: [demand]
                      outcome: none
                      route_to: null
                      priority: normal
                      escalate_to: [legal]
            """,
        },
    )

    status, out, _ = run(capsys, "test", str(root))

    assert status == 1
    # Why names the lexicon entry as written and where, never the words of the message.
    lexicon = root / "lexicons" / "pl" / "supervisor_demand.yaml"
    # The entry that reads "rozmawiać ... kierownikiem": the first phrase with both words.
    number, entry = next(
        (n, line.strip().removeprefix("- "))
        for n, line in enumerate(lexicon.read_text(encoding="utf-8").splitlines(), 1)
        if line.strip().startswith("- (") and "rozmawiać" in line and "kierowni*" in line
    )
    why = (
        f"signal supervisor_demand (pl) matched entry '{entry}' "
        f"at rules/lexicons/pl/supervisor_demand.yaml:{number}"
    )
    assert out.splitlines() == [
        "FAIL rules/tests/wrong.yaml:2: a polite question",
        f"     expected rule demand not to fire, but it did: {why}",
        f"     expected outcome none, got escalate — escalation to supervisor by rule demand: {why}",
        "     expected escalate_to ['legal'], got ['supervisor'] — escalation to supervisor by "
        f"rule demand: {why}; no rule escalated to legal",
        f"     expected route_to None, got supervisors — set by rule demand: {why}",
        f"     expected priority normal, got high — set by rule demand: {why}",
        "     got: outcome escalate; escalate_to supervisor (handover, new); route_to supervisors; "
        "priority high; matched demand; signals supervisor_demand (pl)",
        "0 passed, 1 failed",
        "coverage: 0 of 2 rules have a firing test and a near miss; missing: "
        "demand (no firing test), threats (no firing test, no near miss)",
    ]


def test_an_expected_escalation_that_did_not_happen_names_what_matched(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = rules_dir(
        tmp_path,
        {
            "rules.yaml": DEMAND_RULE,
            "tests/wrong.yaml": """
                tests:
                  - name: my own manager
                    event: {type: customer_message, channel: chat, text: "Mój kierownik kazał mi zadzwonić."}
                    expect: {fires: [demand], outcome: escalate}
            """,
        },
    )

    status, out, _ = run(capsys, "test", str(root))

    assert status == 1
    assert "     expected rule demand to fire, but it did not; matched: no rule" in out
    assert (
        "     expected outcome escalate, got none — no rule escalated or routed; matched: no rule"
        in out
    )


def test_a_clean_directory_passes_even_when_strict(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = rules_dir(
        tmp_path,
        {
            "rules.yaml": DEMAND_RULE.split("      - id: threats")[0],
            "tests/demand.yaml": DEMAND_TESTS,
        },
    )

    status, out, _ = run(capsys, "lint", "--strict", str(root))

    assert (status, out) == (0, f"0 error(s), 0 warning(s) in {root}\n")
