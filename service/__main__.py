"""Command line for rule authors and operators.

python -m service check [--rules DIR]   validate rule and lexicon files
python -m service test  [--rules DIR]   run the rule tests in DIR/tests
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from service.config import PROJECT_ROOT, defaults
from service.policy import Policy, build_policy
from service.ruleset.issues import InvalidFiles
from service.ruletests import load_tests, run
from service.store.db import create_engine, current_revision, migrate


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


def migrate_database(url: str, instance: Path) -> int:
    """Migrate the database schema to the newest revision, keeping its data."""
    engine = create_engine(url)
    before = current_revision(engine)
    migrate(engine, instance / "migrate.lock")
    print(f"database at revision {current_revision(engine)} (was {before or 'empty'})")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the command."""
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("check", "test", "migrate"))
    parser.add_argument(
        "--rules", type=Path, default=PROJECT_ROOT / "rules", help="rules directory"
    )
    parser.add_argument("--database", help="database URL (default: DATABASE_URL, else SQLite)")
    args = parser.parse_args(argv)
    if args.command == "migrate":
        instance = Path(os.environ.get("ESCALATION_INSTANCE_PATH") or PROJECT_ROOT / "instance")
        url = (
            args.database
            or os.environ.get("DATABASE_URL")
            or defaults(str(instance))["DATABASE_URL"]
        )
        return migrate_database(url, instance)
    command = check if args.command == "check" else test
    return command(args.rules.resolve())


if __name__ == "__main__":
    sys.exit(main())
