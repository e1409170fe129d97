"""``escalation lint [DIR]``: errors and warnings about a rules directory, in one pass."""

from __future__ import annotations

import argparse
import json
from typing import Any

from service.cli.common import rules_argument, rules_dir
from service.lint import ERROR, WARNING, lint_directory


def register(subparsers: Any) -> None:
    """Add the ``lint`` subcommand."""
    parser = subparsers.add_parser(
        "lint",
        help="report errors and likely mistakes in rule and lexicon files",
        description=(
            "Report everything `check` rejects (errors) and rules that are valid but probably "
            "not what was meant (warnings). Exit 1 on errors; warnings alone exit 0 unless "
            "--strict is given."
        ),
    )
    rules_argument(parser)
    parser.add_argument("--strict", action="store_true", help="fail on warnings too")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON lines")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Lint a rules directory; print every finding and a summary."""
    rules = rules_dir(args)
    findings = lint_directory(rules)
    errors = sum(f.severity == ERROR for f in findings)
    warnings = sum(f.severity == WARNING for f in findings)
    for finding in findings:
        print(json.dumps(finding.as_dict(), ensure_ascii=False) if args.json else finding)
    if not args.json:
        print(f"{errors} error(s), {warnings} warning(s) in {rules}")
    if errors or (args.strict and warnings):
        return 1
    return 0
