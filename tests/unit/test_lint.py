"""Linting rule sets: each warning on a rules directory that shows it, and on one that does not."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service import lint as lint_module
from service.engine.compiler import KeyRef, Lit
from service.engine.merge import rank_key
from service.engine.model import AllOf, AnyOf, Condition, Escalation, Predicate, RuleSet, Then
from service.lint import (
    ERROR,
    WARNING,
    Finding,
    coverage,
    implies,
    lint_directory,
    satisfiable,
)
from service.ruleset.issues import Issue
from service.ruletests import load_tests
from tests import factories
from tests.factories import BROKEN_RULE_FILE, rules_dir


def rule_yaml(
    rule_id: str, when: str, then: str = "guidance: look", priority: int = 50, **extra: Any
) -> str:
    """Return one rule as YAML list item text, conditions and outcome given as YAML flow text."""
    lines = [
        f"  - id: {rule_id}",
        f"    title: {rule_id}",
        f"    description: {rule_id}",
        f"    priority: {priority}",
        *(f"    {key}: {value}" for key, value in extra.items()),
        "    when:",
        textwrap.indent(textwrap.dedent(when).strip(), "      "),
        "    then:",
        textwrap.indent(textwrap.dedent(then).strip(), "      "),
    ]
    return "\n".join(lines) + "\n"


def directory(tmp_path: Path, *rules: str, files: dict[str, str] | None = None) -> Path:
    """Write a rules directory of the given rules (in rules.yaml) and extra files."""
    return rules_dir(
        tmp_path, {"rules.yaml": "rules:\n" + "".join(rules), **(files or {})}, lexicons=False
    )


def warnings(root: Path, kind: str) -> list[Finding]:
    """Lint a directory; return its warnings of one kind (and fail on any error)."""
    findings = lint_directory(root)
    assert [f for f in findings if f.severity == ERROR] == []
    return [f for f in findings if f.kind == kind]


# --- never-fires ---------------------------------------------------------------------------

CONTRADICTIONS = {
    "two values": """
        all:
          - event.channel: {eq: chat}
          - event.channel: {eq: email}
    """,
    "disjoint ranges": """
        case.hostility: {gt: 5, lt: 3}
    """,
    "disjoint sets": """
        all:
          - event.type: {in: [complaint_opened, complaint_reopened]}
          - event.type: {in: [case_closed, case_assigned]}
    """,
    "absent and compared": """
        all:
          - case.topic: {exists: false}
          - case.topic: {eq: billing}
    """,
    "field against field": """
        all:
          - case.hostility: {gt: agent.limits.max_hostility}
          - agent.limits.max_hostility: {gte: case.hostility}
    """,
    "a value and its negation": """
        all:
          - event.channel: {eq: chat}
          - not:
              event.channel: {in: [chat, phone]}
    """,
    "every alternative": """
        any:
          - case.messages: {gte: 5, lte: 4}
          - all:
              - event.type: {eq: case_closed}
              - event.type: {eq: complaint_opened}
    """,
}


@pytest.mark.parametrize("when", CONTRADICTIONS.values(), ids=CONTRADICTIONS.keys())
def test_a_rule_whose_conditions_contradict_never_fires(tmp_path: Path, when: str) -> None:
    root = directory(tmp_path, rule_yaml("dead", when))

    (finding,) = warnings(root, "never-fires")

    assert (finding.severity, finding.rule, finding.file) == (WARNING, "dead", "rules/rules.yaml")
    assert finding.message.startswith("this rule can never fire")
    assert finding.hint
    assert "any:" in finding.hint


def test_the_contradiction_is_named_at_its_line(tmp_path: Path) -> None:
    root = directory(
        tmp_path,
        rule_yaml("fine", "event.type: {eq: case_closed}"),
        rule_yaml("dead", CONTRADICTIONS["two values"]),
    )

    (finding,) = warnings(root, "never-fires")

    assert "event.channel = chat and event.channel = email cannot both be true" in finding.message
    text = (root / "rules.yaml").read_text().splitlines()
    assert text[finding.line - 1].strip() == "- event.channel: {eq: email}"
    assert finding.where == "when.all[1].event.channel"


SATISFIABLE = {
    "alternatives": """
        any:
          - event.channel: {eq: chat}
          - event.channel: {eq: email}
    """,
    "a range": "case.hostility: {gt: 3, lt: 5}",
    "a single point": "case.hostility: {gte: 3, lte: 3}",
    "overlapping sets": """
        all:
          - event.channel: {in: [chat, phone]}
          - event.channel: {in: [phone, email]}
    """,
    "a negation of something else": """
        all:
          - event.channel: {eq: chat}
          - not:
              event.channel: {eq: phone}
    """,
    "one dead alternative": """
        any:
          - case.messages: {gte: 5, lte: 4}
          - event.type: {eq: case_closed}
    """,
    "two fields": """
        all:
          - case.hostility: {gt: agent.limits.max_hostility}
          - case.complexity: {lt: agent.limits.max_hostility}
    """,
}


@pytest.mark.parametrize("when", SATISFIABLE.values(), ids=SATISFIABLE.keys())
def test_a_rule_some_event_can_meet_is_not_reported(tmp_path: Path, when: str) -> None:
    root = directory(tmp_path, rule_yaml("alive", when))

    assert warnings(root, "never-fires") == []


def test_satisfiable_reads_numeric_ranges_of_one_key() -> None:
    assert satisfiable(frozenset({Lit("v0", "gte", 3), Lit("v0", "lt", 4)}))
    assert not satisfiable(frozenset({Lit("v0", "gt", 3), Lit("v0", "lte", 3)}))
    assert not satisfiable(frozenset({Lit("v0", "eq", 3), Lit("v0", "gt", 3)}))
    assert not satisfiable(
        frozenset({Lit("v0", "gte", 3), Lit("v0", "lte", 3), Lit("v0", "neq", 3)})
    )
    assert not satisfiable(
        frozenset({Lit("v0", "gt", KeyRef("v1")), Lit("v1", "gt", KeyRef("v0"))})
    )


def test_implies_compares_bounds_and_values() -> None:
    assert implies(frozenset({Lit("v0", "gte", 5)}), frozenset({Lit("v0", "gt", 3)}))
    assert not implies(frozenset({Lit("v0", "gte", 3)}), frozenset({Lit("v0", "gt", 3)}))
    assert implies(frozenset({Lit("v0", "eq", "chat")}), frozenset({Lit("v0", "neq", "email")}))
    assert implies(frozenset({Lit("v0", "eq", "chat")}), frozenset({Lit("p0", "eq", True)}))
    assert not implies(frozenset({Lit("v0", "neq", "chat")}), frozenset({Lit("p0", "eq", True)}))
    assert implies(frozenset({Lit("x0", "eq", True)}), frozenset())


# --- shadowed ------------------------------------------------------------------------------

SUPERVISOR = """
    escalate: supervisor
    route_to: supervisors
    priority: high
    guidance: Hand over.
"""


def test_a_rule_that_a_higher_ranked_rule_covers_is_shadowed(tmp_path: Path) -> None:
    root = directory(
        tmp_path,
        rule_yaml("broad", "signals: {contains: supervisor_demand}", SUPERVISOR, priority=70),
        rule_yaml(
            "narrow",
            """
            all:
              - signals: {contains: supervisor_demand}
              - event.channel: {in: [chat, phone]}
            """,
            "escalate: {to: supervisor, mode: notify}\nguidance: Hand over.",
            priority=40,
        ),
    )

    (finding,) = warnings(root, "shadowed")

    assert finding.rule == "narrow"
    assert "rule broad fires too" in finding.message
    assert "priority 70 against 40" in finding.message
    assert finding.hint
    assert "remove this rule" in finding.hint


def test_a_numeric_threshold_inside_a_broader_one_is_shadowed(tmp_path: Path) -> None:
    root = directory(
        tmp_path,
        rule_yaml("hostile", "case.hostility: {gte: 3}", SUPERVISOR, priority=60),
        rule_yaml("very-hostile", "case.hostility: {gt: 5}", "escalate: supervisor", priority=60),
    )

    (finding,) = warnings(root, "shadowed")

    assert finding.rule == "very-hostile"
    assert "the same priority, and its id sorts first" in finding.message


def test_a_safety_rule_outranks_a_higher_priority(tmp_path: Path) -> None:
    root = directory(
        tmp_path,
        rule_yaml(
            "threat",
            "signals: {contains: legal_threat}",
            "escalate: legal\nguidance: Tell legal.",
            priority=10,
            safety="true",
        ),
        rule_yaml(
            "threat-in-chat",
            "all: [{signals: {contains: legal_threat}}, {event.channel: {eq: chat}}]",
            "escalate: legal",
            priority=90,
        ),
    )

    (finding,) = warnings(root, "shadowed")

    assert (finding.rule, "a safety rule" in finding.message) == ("threat-in-chat", True)


DEMAND = "signals: {contains: supervisor_demand}"
HAND_OVER = "escalate: supervisor\nguidance: Hand over."
# (higher rule's when, then, priority), (lower rule's when, then, priority)
NOT_SHADOWED = {
    "it adds guidance": (
        (DEMAND, SUPERVISOR, 70),
        (DEMAND, "escalate: supervisor\nguidance: [Hand over., Be kind.]", 40),
    ),
    "the narrower rule ranks higher": (
        (
            "all: [{signals: {contains: supervisor_demand}}, {event.channel: {eq: chat}}]",
            SUPERVISOR,
            90,
        ),
        (DEMAND, SUPERVISOR, 40),
    ),
    "its condition is broader": (
        ("case.hostility: {gte: 3}", SUPERVISOR, 70),
        ("case.hostility: {gte: 1}", HAND_OVER, 40),
    ),
    "it hands over where the other notifies": (
        (DEMAND, "escalate: {to: supervisor, mode: notify}\nguidance: Hand over.", 70),
        (DEMAND, HAND_OVER, 40),
    ),
    "it routes where the other does not": (
        (DEMAND, HAND_OVER, 70),
        (DEMAND, HAND_OVER + "\nroute_to: supervisors", 40),
    ),
}


@pytest.mark.parametrize("pair", NOT_SHADOWED.values(), ids=NOT_SHADOWED.keys())
def test_a_rule_that_changes_the_decision_is_not_shadowed(
    tmp_path: Path, pair: tuple[tuple[str, str, int], tuple[str, str, int]]
) -> None:
    (when_a, then_a, priority_a), (when_b, then_b, priority_b) = pair
    root = directory(
        tmp_path,
        rule_yaml("first", when_a, then_a, priority=priority_a),
        rule_yaml("second", when_b, then_b, priority=priority_b),
    )

    assert warnings(root, "shadowed") == []


# --- repeats -------------------------------------------------------------------------------

GROWING = {
    "a threshold": "case.threats: {gte: 2}",
    "a negated upper bound": "not: {case.messages: {lt: 10}}",
    "a field limit": "case.minutes_with_customer: {gt: agent.limits.max_minutes}",
    "a field limit written the other way": (
        "agent.limits.max_minutes: {lt: case.minutes_with_customer}"
    ),
    "with other conditions": """
        all:
          - signals: {contains: abuse}
          - case.abusive_messages: {gt: 2}
    """,
}


@pytest.mark.parametrize("when", GROWING.values(), ids=GROWING.keys())
def test_escalating_on_a_growing_count_without_cool_down_repeats(tmp_path: Path, when: str) -> None:
    root = directory(tmp_path, rule_yaml("pages", when, "escalate: supervisor"))

    (finding,) = warnings(root, "repeats")

    assert finding.rule == "pages"
    assert "escalates to supervisor again on every later event" in finding.message
    assert finding.hint
    assert "cooldown: 1h" in finding.hint
    line = (root / "rules.yaml").read_text().splitlines()[finding.line - 1]
    assert finding.message.split(" ")[0] in line


QUIET = {
    "a cool-down": ("case.threats: {gte: 2}", "escalate: supervisor\ncooldown: 30m"),
    "no escalation": ("case.threats: {gte: 2}", "route_to: legal"),
    "a count that goes down": ("customer.unresolved_complaints: {gte: 3}", "escalate: supervisor"),
    "an upper bound": ("case.messages: {gte: 3, lt: 5}", "escalate: supervisor"),
    "an upper bound against a field": (
        "all: [{agent.limits.max_minutes: {lt: case.minutes_with_customer}},"
        " {case.minutes_with_customer: {lte: 600}}]",
        "escalate: supervisor",
    ),
    "one exact count": ("case.threats: {eq: 2}", "escalate: supervisor"),
    "a count below a limit": ("case.messages: {lt: 3}", "escalate: supervisor"),
}


@pytest.mark.parametrize("case", QUIET.values(), ids=QUIET.keys())
def test_a_rule_that_cannot_repeat_forever_is_not_reported(
    tmp_path: Path, case: tuple[str, str]
) -> None:
    when, then = case
    root = directory(tmp_path, rule_yaml("quiet", when, then))

    assert warnings(root, "repeats") == []


# --- duplicate-phrase ----------------------------------------------------------------------


def lexicon(language: str, signal: str, *phrases: str, extra: str = "") -> str:
    items = "".join(f"  - {p}\n" for p in phrases)
    return f"signal: {signal}\nlanguage: {language}\n{extra}phrases:\n{items}"


def test_phrases_equal_after_folding_are_duplicates(tmp_path: Path) -> None:
    root = directory(
        tmp_path,
        rule_yaml("any", "signals: {contains: supervisor_demand}"),
        files={
            "lexicons/en/supervisor_demand.yaml": lexicon(
                "en", "supervisor_demand", "speak to a manager", "Speak  to a MANAGER"
            ),
        },
    )

    (finding,) = warnings(root, "duplicate-phrase")

    assert (finding.file, finding.line, finding.rule) == (
        "rules/lexicons/en/supervisor_demand.yaml",
        5,
        None,
    )
    assert '"Speak  to a MANAGER" matches exactly what "speak to a manager" at line 4' in (
        finding.message
    )
    assert finding.hint == "remove one of the two phrases"


def test_duplicates_are_found_across_files_and_through_lists(tmp_path: Path) -> None:
    root = directory(
        tmp_path,
        rule_yaml("any", "signals: {contains: supervisor_demand}"),
        files={
            "lexicons/en/supervisor_demand.yaml": lexicon(
                "en", "supervisor_demand", "speak to (a|the) manager"
            ),
            "lexicons/more/en/supervisor_demand.yaml": lexicon(
                "en",
                "supervisor_demand",
                "speak to @articles manager",
                extra="lists:\n  articles: [a, the]\n",
            ),
        },
    )

    (finding,) = warnings(root, "duplicate-phrase")

    assert finding.file == "rules/lexicons/more/en/supervisor_demand.yaml"
    assert "rules/lexicons/en/supervisor_demand.yaml:4" in finding.message


def test_the_same_phrase_for_another_signal_or_language_is_no_duplicate(tmp_path: Path) -> None:
    root = directory(
        tmp_path,
        rule_yaml("any", "signals: {contains: supervisor_demand}"),
        files={
            "lexicons/en/supervisor_demand.yaml": lexicon(
                "en", "supervisor_demand", "speak to a manager", "speak to the manager"
            ),
            "lexicons/en/abuse.yaml": lexicon("en", "abuse", "speak to a manager"),
            "lexicons/de/supervisor_demand.yaml": lexicon(
                "de", "supervisor_demand", "speak to a manager"
            ),
        },
    )

    assert warnings(root, "duplicate-phrase") == []


# --- untested ------------------------------------------------------------------------------

RULE_TESTS = """
    tests:
      - name: fires
        event: {type: case_closed}
        expect: {fires: [tested, half-tested]}
      - name: near miss
        event: {type: case_assigned}
        expect: {does_not_fire: [tested]}
"""


def test_rules_without_a_firing_test_or_a_near_miss_are_reported(tmp_path: Path) -> None:
    root = directory(
        tmp_path,
        rule_yaml("tested", "event.type: {eq: case_closed}"),
        rule_yaml("half-tested", "event.type: {eq: case_closed}"),
        rule_yaml("untested", "event.type: {eq: case_assigned}"),
        files={"tests/cases.yaml": RULE_TESTS},
    )

    findings = {f.rule: f for f in warnings(root, "untested")}

    assert sorted(findings) == ["half-tested", "untested"]
    assert "near miss" in findings["half-tested"].message
    assert "firing" not in findings["half-tested"].message
    assert findings["half-tested"].hint == (
        "add a test with `does_not_fire: [half-tested]` to a file under tests/"
    )
    assert "firing" in findings["untested"].message
    assert "near miss" in findings["untested"].message


def test_coverage_lists_what_each_rule_lacks(tmp_path: Path) -> None:
    root = directory(
        tmp_path,
        rule_yaml("tested", "event.type: {eq: case_closed}"),
        rule_yaml("half-tested", "event.type: {eq: case_closed}"),
        rule_yaml("untested", "event.type: {eq: case_assigned}"),
        files={"tests/cases.yaml": RULE_TESTS},
    )
    tests = load_tests(root, frozenset({"tested", "half-tested", "untested"}))

    report = coverage(["tested", "half-tested", "untested"], tests)

    assert report.summary() == (
        "coverage: 1 of 3 rules have a firing test and a near miss; missing: "
        "half-tested (no near miss), untested (no firing test, no near miss)"
    )
    assert coverage(["tested"], tests).summary() == (
        "coverage: 1 of 1 rules have a firing test and a near miss"
    )


# --- errors --------------------------------------------------------------------------------


def test_errors_are_what_check_reports_and_warnings_still_come(tmp_path: Path) -> None:
    root = rules_dir(
        tmp_path,
        {
            "complaints.yaml": BROKEN_RULE_FILE,
            "lexicons/en/abuse.yaml": lexicon("en", "abuse", "you idiot", "You  Idiot"),
        },
        lexicons=False,
    )

    findings = lint_directory(root)

    errors = [f for f in findings if f.severity == ERROR]
    assert {(f.file, f.line, f.rule) for f in errors} == {
        ("rules/complaints.yaml", 8, "repeated-complaints"),
        ("rules/complaints.yaml", 2, "repeated-complaints"),
    }
    assert [f.kind for f in findings if f.severity == WARNING] == ["duplicate-phrase"]


def test_an_issue_becomes_an_error_finding() -> None:
    issue = Issue("rules/a.yaml", 3, "unknown field", rule="r", where="when", hint="see README")

    finding = Finding.from_issue(issue)

    assert str(finding) == "rules/a.yaml:3: error: rule r, when: unknown field\n    fix: see README"
    assert finding.as_dict()["severity"] == "error"


def test_broken_rule_tests_are_errors_and_coverage_is_left_unsaid(tmp_path: Path) -> None:
    root = directory(
        tmp_path,
        rule_yaml("closed", "event.type: {eq: case_closed}"),
        files={
            "tests/cases.yaml": """
                tests:
                  - name: misspelled rule
                    event: {type: case_closed}
                    expect: {fires: [closd]}
            """
        },
    )

    findings = lint_directory(root)

    (error,) = findings
    assert (error.severity, error.file, error.line) == (ERROR, "rules/tests/cases.yaml", 4)
    assert (error.message, error.hint) == ('no rule "closd"', 'did you mean "closed"?')


def _shadowed_by_every_pair(rs: RuleSet) -> set[str]:
    """Compare every rule with every higher-ranked one: the definition, without the index."""
    analysis = lint_module._analyse(rs)
    ranked = sorted(rs.rules, key=rank_key)
    found = set()
    for position, lower in enumerate(ranked):
        lower_terms = analysis.terms.get(lower.id)
        for higher in ranked[:position]:
            higher_terms = analysis.terms.get(higher.id)
            if (
                lower_terms
                and higher_terms
                and lint_module._covered(higher.then, lower.then)
                and all(any(lint_module.implies(t, h) for h in higher_terms) for t in lower_terms)
            ):
                found.add(lower.id)
                break
    return found


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([None, "customer_message", "agent_note"]),
            st.sampled_from([None, "chat", "email"]),
            st.sampled_from([None, 1, 2, 3]),
            st.sampled_from([None, True]),
            st.integers(0, 3),
            st.sampled_from(["supervisor", "legal", None]),
        ),
        min_size=1,
        max_size=7,
    )
)
def test_the_shadowed_index_finds_what_comparing_every_pair_finds(
    specs: list[tuple[str | None, str | None, int | None, bool | None, int, str | None]],
) -> None:
    rules = []
    for index, (etype, channel, hostility, vip, priority, target) in enumerate(specs):
        parts: list[Condition] = []
        if etype:
            parts.append(Predicate("event.type", "eq", etype))
        if channel:
            exact = Predicate("event.channel", "eq", channel)
            either = AnyOf((exact, Predicate("event.channel", "eq", "phone")))
            parts.append(either if index % 2 else exact)
        if hostility is not None:
            parts.append(Predicate("case.hostility", "gte", hostility))
        if vip:
            parts.append(Predicate("event.attributes.vip", "eq", True))
        when: Condition = AllOf(tuple(parts)) if parts else Predicate("case.hostility", "gte", 0)
        then = Then(escalate=(Escalation(to=target),) if target else (), route_to="q")
        rules.append(factories.rule(f"r{index}", when, then, priority=priority * 10))
    rs = factories.ruleset(*rules)

    found = {f.rule for f in lint_module.shadowed(rs)}

    assert found == _shadowed_by_every_pair(rs)
