"""Property tests: whatever a rule author writes, the loader answers with issues, never a crash.

Arbitrary YAML text and arbitrary YAML-shaped data, as a rule file, a lexicon
file or defaults.yaml, either load or raise ``InvalidFiles`` with a list of
issues, each naming a file and a line; nothing else may escape, and each
example is bounded by a deadline so a pathological input cannot hang.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from service.ruleset.bundle import Bundle
from service.ruleset.issues import InvalidFiles
from service.ruleset.loader import load_bundle

pytestmark = pytest.mark.slow

# A valid rule file next to the one under test, so only that one can be at fault.
VALID_RULES = """\
rules:
  - id: demo
    title: Demo
    description: A rule that is valid, next to the file under test.
    priority: 50
    when:
      event.type: {eq: customer_message}
    then:
      guidance: "Say hello."
"""
PATHS = ("extra.yaml", "defaults.yaml", "lexicons/en/abuse.yaml")
BOUNDED = settings(
    max_examples=150,
    deadline=timedelta(seconds=10),  # a bound on a hang, not a speed test
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

KEYS = st.sampled_from(
    [
        "rules", "id", "title", "priority", "when", "then", "all", "any", "not", "eq", "gte",
        "in", "escalate", "route_to", "guidance", "signal", "language", "phrases", "lists",
        "timers", "defaults", "event.type", "case.hostility", "customer.flags", "after",
    ]
) | st.text(max_size=12)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.dates().map(str)
)
YAML_DATA = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=30,
)


def check_loads_or_reports(path: str, text: str) -> None:
    files = {"base.yaml": VALID_RULES, path: text}
    issues = []
    try:
        load_bundle(Bundle.from_text(files))
    except InvalidFiles as exc:
        issues = exc.issues
        assert issues
    for issue in issues:
        assert issue.file
        assert isinstance(issue.line, int)
        assert issue.message


@given(path=st.sampled_from(PATHS), text=st.text(max_size=400))
@example(path="extra.yaml", text="rules: [*a]")
@example(path="extra.yaml", text="a: &a [*a]")
@example(path="extra.yaml", text="rules: !!python/object:os.system {}")
@example(path="extra.yaml", text="rules: [!!int abc, !!timestamp 2026-13-45, !!binary '#']")
@example(path="extra.yaml", text="? !!float x\n: 1\n")
@example(path="extra.yaml", text="[" * 5000 + "]" * 5000)
@example(path="extra.yaml", text="rules: " + "[" * 300 + "]" * 300)
@example(path="defaults.yaml", text="\ud800")
@example(path="lexicons/en/abuse.yaml", text="\x00")
@BOUNDED
def test_any_yaml_text_loads_or_is_reported(path: str, text: str) -> None:
    check_loads_or_reports(path, text)


@given(path=st.sampled_from(PATHS), data=YAML_DATA)
@BOUNDED
def test_any_yaml_shaped_data_loads_or_is_reported(path: str, data: Any) -> None:
    check_loads_or_reports(path, yaml.safe_dump(data, allow_unicode=True))


@given(data=st.dictionaries(KEYS, YAML_DATA, max_size=6))
@BOUNDED
def test_any_rule_shaped_data_loads_or_is_reported(data: dict[str, Any]) -> None:
    rule = {"id": "r1", "title": "R", "priority": 1, "when": {}, "then": {}, **data}
    check_loads_or_reports("extra.yaml", yaml.safe_dump({"rules": [rule]}, allow_unicode=True))


def test_the_file_next_to_the_one_under_test_is_valid() -> None:
    assert load_bundle(Bundle.from_text({"base.yaml": VALID_RULES})).ruleset.rules


def test_a_billion_laughs_is_reported_in_bounded_time() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 20)]
    check_loads_or_reports("extra.yaml", "\n".join(lines) + "\nrules: *a19\n")
