"""``escalation test [DIR]``: run the rule tests under DIR/tests; report failures and coverage."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from service.cli.common import load_policy, rules_argument, rules_dir
from service.lint import coverage
from service.ruleset.issues import InvalidFiles
from service.ruletests import execute, load_tests


def register(subparsers: Any) -> None:
    """Add the ``test`` subcommand."""
    parser = subparsers.add_parser(
        "test",
        help="run the rule tests in DIR/tests",
        description=(
            "Run the rule tests in DIR/tests. A failure shows what was expected and what the "
            "decision showed, field by field, with the rules behind it; the last line says "
            "which rules lack a test where they fire or a near miss."
        ),
    )
    rules_argument(parser)
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Run the rule tests of a rules directory; print every failure and the coverage."""
    rules = rules_dir(args)
    policy = load_policy(rules)
    if policy is None:
        return 1
    try:
        tests = load_tests(rules, frozenset(policy.ruleset.by_id))
    except InvalidFiles as exc:
        print(f"{len(exc.issues)} problem(s) in the rule tests of {rules}:", file=sys.stderr)
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        return 1
    failed = 0
    for case in tests:
        result = execute(policy, case)
        if result.failures:
            failed += 1
            print(f"FAIL {case.location}: {case.name}")
            for failure in result.failures:
                print(f"     {failure}")
            print(f"     {result.summary()}")
    print(f"{len(tests) - failed} passed, {failed} failed")
    print(coverage(policy.ruleset.by_id, tests).summary())
    return 1 if failed else 0
