"""What several subcommands share: the rules directory argument and printing problems."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from service.config import PROJECT_ROOT
from service.policy import Policy, build_policy
from service.ruleset.issues import InvalidFiles

DEFAULT_RULES = PROJECT_ROOT / "rules"


def rules_argument(parser: argparse.ArgumentParser) -> None:
    """Add the rules directory: positional ``DIR`` or ``--rules DIR`` (default: bundled rules)."""
    parser.add_argument(
        "rules_dir", nargs="?", type=Path, metavar="DIR", help="rules directory (default: rules/)"
    )
    parser.add_argument("--rules", dest="rules_option", type=Path, help=argparse.SUPPRESS)


def rules_dir(args: argparse.Namespace) -> Path:
    """Return the rules directory named on the command line, or the bundled one."""
    chosen: Path = args.rules_dir or args.rules_option or DEFAULT_RULES
    return chosen.resolve()


def print_issues(exc: InvalidFiles, rules: Path) -> None:
    """Print every problem of a rules directory to standard error."""
    print(f"{len(exc.issues)} problem(s) in {rules}:", file=sys.stderr)
    for issue in exc.issues:
        print(f"  {issue}", file=sys.stderr)


def load_policy(rules: Path) -> Policy | None:
    """Build a policy from a rules directory, or print its problems and return None."""
    try:
        return build_policy(rules.resolve())
    except InvalidFiles as exc:
        print_issues(exc, rules)
        return None
