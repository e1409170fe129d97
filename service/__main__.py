"""Command line for rule authors and operators.

python -m service check [--rules DIR]   validate rule and lexicon files
python -m service test  [--rules DIR]   run the rule tests in DIR/tests
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from service.config import PROJECT_ROOT
from service.policy import Policy, build_policy
from service.ruleset.issues import InvalidFiles
from service.ruletests import load_tests, run


def _policy(rules: Path) -> Policy | None:
    try:
        return build_policy(rules)
    except InvalidFiles as exc:
        print(f"{len(exc.issues)} problem(s) in {rules}:", file=sys.stderr)
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        return None


def check(rules: Path) -> int:
    """Validate a rules directory; print every problem."""
    policy = _policy(rules)
    if policy is None:
        return 1
    print(
        f"ok: {len(policy.ruleset.rules)} rules, "
        f"{len(policy.detector.lexicon.files)} lexicon files, {policy.revision}"
    )
    return 0


def test(rules: Path) -> int:
    """Run the rule tests of a rules directory; print every failure."""
    policy = _policy(rules)
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


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the command."""
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("check", "test"))
    parser.add_argument(
        "--rules", type=Path, default=PROJECT_ROOT / "rules", help="rules directory"
    )
    args = parser.parse_args(argv)
    command = check if args.command == "check" else test
    return command(args.rules.resolve())


if __name__ == "__main__":
    sys.exit(main())
