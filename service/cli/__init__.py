"""The ``escalation`` command line for rule authors and operators.

Each subcommand lives in a module of this package with a ``register``
function that adds its parser; ``main`` wires them together.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from service.cli import check, explain, keys, lint, migrate, purge, replay, ruletest, timers

# Each module: register(subparsers) -> None, setting ``func`` on its parser.
COMMANDS = (check, lint, ruletest, explain, replay, migrate, timers, keys, purge)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="escalation",
        description="Check, lint, test, explain and replay rule sets; operate the service.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the subcommand; return its exit status."""
    args = build_parser().parse_args(argv)
    status: int = args.func(args)
    return status
