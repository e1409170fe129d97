"""``escalation test [DIR]``: run the rule tests under DIR/tests."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from service.cli.common import load_policy, rules_argument, rules_dir
from service.ruleset.issues import InvalidFiles
from service.ruletests import load_tests, run


def register(subparsers: Any) -> None:
    """Add the ``test`` subcommand."""
    parser = subparsers.add_parser("test", help="run the rule tests in DIR/tests")
    rules_argument(parser)
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    """Run the rule tests of a rules directory; print every failure."""
    rules = rules_dir(args)
    policy = load_policy(rules)
    if policy is None:
        return 1
    try:
        tests = load_tests(rules, frozenset(policy.ruleset.by_id))
    except InvalidFiles as exc:
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        return 1
    failed = 0
    for case in tests:
        failures = run(policy, case)
        if failures:
            failed += 1
            print(f"FAIL {case.location}: {case.name}")
            for failure in failures:
                print(f"     {failure}")
    print(f"{len(tests) - failed} passed, {failed} failed")
    return 1 if failed else 0
