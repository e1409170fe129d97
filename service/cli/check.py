"""``escalation check [DIR]``: validate rule and lexicon files, every problem in one pass."""

from __future__ import annotations

import argparse
from typing import Any

from service.cli.common import load_policy, rules_argument, rules_dir


def register(subparsers: Any) -> None:
    """Add the ``check`` subcommand."""
    parser = subparsers.add_parser("check", help="validate rule and lexicon files")
    rules_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate a rules directory; print every problem."""
    policy = load_policy(rules_dir(args))
    if policy is None:
        return 1
    print(
        f"ok: {len(policy.ruleset.rules)} rules, "
        f"{len(policy.detector.lexicon.files)} lexicon files, {policy.revision}"
    )
    return 0
