"""Loading rule files: every problem, with file, line, rule, place and a suggestion."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from service.policy import build_policy
from service.ruleset import loader
from service.ruleset.issues import InvalidFiles, Issue
from tests.factories import BROKEN_RULE_FILE, rules_dir

GOOD_RULE = """
    rules:
      - id: repeated-complaints
        title: Repeated complaints
        description: Complaints keep coming.
        priority: 60
        when:
          all:
            - event.type: {eq: complaint_opened}
            - customer.unresolved_complaints: {gte: 2}
        then:
          escalate: supervisor
"""


def problems(root: Path) -> list[Issue]:
    with pytest.raises(InvalidFiles) as info:
        loader.load(root)
    return info.value.issues


def test_a_valid_directory_loads(tmp_path: Path) -> None:
    loaded = loader.load(rules_dir(tmp_path, {"complaints.yaml": GOOD_RULE}))

    (rule,) = loaded.ruleset.rules
    assert rule.id == "repeated-complaints"
    assert rule.source.file == "rules/complaints.yaml"
    assert rule.source.line == 2
    assert loaded.ruleset.revision.startswith("sha256:")


def test_misspelled_operator_and_missing_then_are_both_reported(tmp_path: Path) -> None:
    root = rules_dir(tmp_path, {"complaints.yaml": BROKEN_RULE_FILE})

    issues = problems(root)

    operator = next(i for i in issues if "gtee" in i.message)
    assert (operator.file, operator.line, operator.rule) == (
        "rules/complaints.yaml",
        8,
        "repeated-complaints",
    )
    assert operator.where == "when.all[1].customer.unresolved_complaints"
    assert operator.message == 'unknown operator "gtee"'
    assert operator.hint == 'did you mean "gte"?'
    missing = next(i for i in issues if "then" in i.message)
    assert (missing.line, missing.rule) == (2, "repeated-complaints")
    assert missing.message == '"then" is missing'
    assert len(issues) == 2


def test_every_problem_in_every_file_is_collected(tmp_path: Path) -> None:
    root = rules_dir(
        tmp_path,
        {
            "a.yaml": """
                rules:
                  - id: Bad Id
                    title: t
                    description: d
                    when: {case.hostilty: {gte: 2}}
                    then: {escalate: supervisor}
            """,
            "b.yaml": """
                rules:
                  - id: rude
                    title: t
                    description: d
                    when: {event.channel: {eq: emial}}
                    then: {priorty: high}
            """,
        },
    )

    messages = [str(i) for i in problems(root)]

    assert any("rules/a.yaml:2" in m and "rule ids use lowercase" in m for m in messages)
    assert any("rules/a.yaml:5" in m and 'did you mean "case.hostility"?' in m for m in messages)
    assert any("rules/b.yaml:5" in m and 'did you mean "email"?' in m for m in messages)
    assert any("rules/b.yaml:6" in m and 'did you mean "priority"?' in m for m in messages)


def test_type_mismatches_are_explained(tmp_path: Path) -> None:
    root = rules_dir(
        tmp_path,
        {
            "r.yaml": """
                rules:
                  - id: r
                    title: t
                    description: d
                    when:
                      all:
                        - case.hostility: {gte: high}
                        - event.language: {eq: no}
                        - customer.flags: {gt: 2}
                    then: {guidance: hi}
            """
        },
    )

    issues = problems(root)
    messages = [i.message for i in issues]

    assert any("gte compares with a number" in m for m in messages)
    assert any("put the word in quotes" in m for m in messages)
    assert (
        "gt does not apply to customer.flags, which is a list",
        "use one of: contains, exists",
    ) in [(i.message, i.hint) for i in issues]


def test_a_key_written_twice_is_reported_not_overwritten(tmp_path: Path) -> None:
    root = rules_dir(
        tmp_path,
        {
            "r.yaml": """
                rules:
                  - id: r
                    title: t
                    title: u
                    description: d
                    when: {case.hostility: {gte: 2}}
                    then: {guidance: hi}
            """
        },
    )

    (issue,) = problems(root)
    assert issue.line == 4
    assert "written twice" in issue.message


def test_duplicate_rule_ids_across_files_name_both_places(tmp_path: Path) -> None:
    root = rules_dir(tmp_path, {"a.yaml": GOOD_RULE, "b.yaml": GOOD_RULE})

    (issue,) = problems(root)
    assert issue.file == "rules/b.yaml"
    assert "already used at rules/a.yaml:2" in issue.message


def test_unknown_placeholders_in_guidance_are_reported(tmp_path: Path) -> None:
    root = rules_dir(
        tmp_path,
        {
            "r.yaml": """
                rules:
                  - id: r
                    title: t
                    description: d
                    when: {case.hostility: {gte: 2}}
                    then: {guidance: "Hostility is {case.hostilty}"}
            """
        },
    )

    (issue,) = problems(root)
    assert issue.message == 'unknown placeholder "{case.hostilty}"'
    assert issue.hint == 'did you mean "{case.hostility}"?'


def test_yaml_syntax_errors_point_to_the_line(tmp_path: Path) -> None:
    root = rules_dir(tmp_path, {"r.yaml": "rules:\n  - id: r\n    when: {a: [1, 2}\n"})

    (issue,) = problems(root)
    assert issue.line == 3
    assert "YAML syntax error" in issue.message


def test_open_attributes_must_be_used_with_one_type(tmp_path: Path) -> None:
    root = rules_dir(
        tmp_path,
        {
            "r.yaml": """
                rules:
                  - id: a
                    title: t
                    description: d
                    when: {event.attributes.plan: {eq: gold}}
                    then: {guidance: hi}
                  - id: b
                    title: t
                    description: d
                    when: {event.attributes.plan: {gte: 3}}
                    then: {guidance: hi}
            """
        },
    )

    (issue,) = problems(root)
    assert issue.rule == "b"
    assert "use one kind of value" in issue.message


def test_the_revision_changes_with_any_decision_file_but_not_with_tests(tmp_path: Path) -> None:
    root = rules_dir(tmp_path, {"r.yaml": GOOD_RULE})
    first = loader.load(root).ruleset.revision

    (root / "tests").mkdir()
    (root / "tests" / "t.yaml").write_text("tests: []\n")
    assert loader.load(root).ruleset.revision == first

    lexicon = root / "lexicons" / "en" / "abuse.yaml"
    lexicon.write_text(lexicon.read_text() + "\n# a comment\n")
    assert loader.load(root).ruleset.revision != first


def test_a_rule_set_past_the_engine_limits_is_refused_as_a_file_problem(tmp_path: Path) -> None:
    rules = "rules:\n" + "".join(
        f"  - id: t{i}\n    title: t\n    description: d\n"
        f"    when: {{case.hostility: {{gte: {i}}}}}\n    then: {{guidance: hi}}\n"
        for i in range(70)
    )
    root = rules_dir(tmp_path, {"r.yaml": rules})

    with pytest.raises(InvalidFiles, match="could match one event at the same time"):
        build_policy(root)


RULE_WITH_EVERY_KIND_OF_PROBLEM = """
    rules:
      - id: triage
        title: t
        description: d
        priority: high
        when:
          all:
            - case.complexty: {gte: 3}
            - case.hostilty: {gtee: 2}
        then:
          guidance: "Topic is {case.topc}"
          priorty: high
"""


def position(text: str, context: str, value: str) -> tuple[int, int]:
    """Return the line and column (from 1) of ``value`` on the one line holding ``context``."""
    lines = textwrap.dedent(text).lstrip().splitlines()
    (number,) = [n for n, line in enumerate(lines, 1) if context in line]
    return number, lines[number - 1].index(value, lines[number - 1].index(context)) + 1


def test_a_rule_with_schema_errors_has_its_fields_and_placeholders_checked_too(
    tmp_path: Path,
) -> None:
    text = RULE_WITH_EVERY_KIND_OF_PROBLEM
    root = rules_dir(tmp_path, {"triage.yaml": text})

    found = {(i.line, i.column, i.rule, i.where, i.message, i.hint) for i in problems(root)}

    assert found == {
        (
            *position(text, "priority: high", "high"),
            "triage",
            "priority",
            "expected a whole number",
            None,
        ),
        (
            *position(text, "case.complexty", "{gte"),
            "triage",
            "when.all[0].case.complexty",
            'unknown field "case.complexty"',
            'did you mean "case.complexity"?',
        ),
        (
            *position(text, "case.hostilty", "{gtee"),
            "triage",
            "when.all[1].case.hostilty",
            'unknown operator "gtee"',
            'did you mean "gte"?',
        ),
        (
            *position(text, "case.hostilty", "{gtee"),
            "triage",
            "when.all[1].case.hostilty",
            'unknown field "case.hostilty"',
            'did you mean "case.hostility"?',
        ),
        (
            *position(text, "guidance:", '"Topic'),
            "triage",
            "then.guidance[0]",
            'unknown placeholder "{case.topc}"',
            'did you mean "{case.topic}"?',
        ),
        (
            *position(text, "priorty: high", "high"),
            "triage",
            "then.priorty",
            'unknown field "priorty"',
            'did you mean "priority"?',
        ),
    }


def test_conditions_with_broken_structure_still_have_their_fields_checked(
    tmp_path: Path,
) -> None:
    root = rules_dir(
        tmp_path,
        {
            "r.yaml": """
                rules:
                  - id: r
                    title: t
                    description: d
                    when:
                      any: [{case.complexty: {gte: 3}}]
                      event.chanel: {eq: chat}
                    then: {guidance: hi}
                  - id: s
                    title: t
                    description: d
                    when:
                      - case.hostilty: {gte: 2}
                    then: {guidance: hi}
            """
        },
    )

    by_rule = {(i.rule, i.message, i.hint) for i in problems(root)}

    assert by_rule >= {
        ("r", 'unknown field "case.complexty"', 'did you mean "case.complexity"?'),
        ("r", 'unknown field "event.chanel"', 'did you mean "event.channel"?'),
        ("s", 'unknown field "case.hostilty"', 'did you mean "case.hostility"?'),
    }
    assert any(i.rule == "r" and "must stand alone" in i.message for i in problems(root))
    assert any(i.rule == "s" and "list them under all" in i.message for i in problems(root))


def test_an_issue_reads_file_line_column_rule_place_message_and_hint() -> None:
    issue = Issue(
        "rules/r.yaml",
        8,
        'unknown field "case.complexty"',
        rule="triage",
        where="when.all[0]",
        hint='did you mean "case.complexity"?',
        column=11,
    )

    assert str(issue) == (
        "rules/r.yaml:8:11: rule triage, when.all[0]: "
        'unknown field "case.complexty" (did you mean "case.complexity"?)'
    )
    assert str(Issue("rules", 1, "no rule files (*.yaml) found")) == (
        "rules:1: no rule files (*.yaml) found"
    )
    assert issue.as_dict()["column"] == 11
