"""``escalation replay``: what a candidate rule set would change for recorded traffic."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import sqlalchemy as sa

from service.cli.common import load_policy, rules_dir
from service.cli.migrate import database_url
from service.replay import ReplayReport, Verdict, replay
from service.store import repository as repo
from service.store.db import create_engine
from service.store.repository import Store, StoredForReplay

# Redraw the progress line at most this often (seconds): drawing costs more than deciding.
PROGRESS_EVERY = 0.2


def moment(text: str) -> datetime:
    """Parse an ISO 8601 date or timestamp; one without a zone is UTC."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 date or timestamp, such as 2026-11-20 "
            "or 2026-11-20T09:00:00Z"
        ) from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def positive(text: str) -> int:
    """Parse a whole number of 1 or more."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return value


def register(subparsers: Any) -> None:
    """Add the ``replay`` subcommand."""
    parser = subparsers.add_parser(
        "replay",
        help="show which recorded decisions a candidate rule set would change",
        description=(
            "Decide stored events again, each from the state recorded for it, with the "
            "candidate rules; report every decision that would change."
        ),
    )
    parser.add_argument(
        "rules_dir", nargs="?", type=Path, metavar="DIR", help="candidate rules (same as --rules)"
    )
    parser.add_argument(
        "--rules",
        dest="rules_option",
        type=Path,
        metavar="DIR",
        help="candidate rules directory (default: rules/)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="DIR",
        help="rules to compare with (default: the decisions as they were recorded)",
    )
    parser.add_argument(
        "--since", type=moment, metavar="ISO", help="events received at or after this moment"
    )
    parser.add_argument(
        "--until", type=moment, metavar="ISO", help="events received before this moment"
    )
    parser.add_argument(
        "--limit", type=positive, metavar="N", help="only the N most recent events of the window"
    )
    parser.add_argument(
        "--database", metavar="URL", help="database URL (default: DATABASE_URL, else SQLite)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.set_defaults(func=run)


def _progress(
    events: Iterable[StoredForReplay], total: int, out: TextIO
) -> Iterator[StoredForReplay]:
    """Yield ``events``, redrawing a progress line on ``out`` as they pass."""
    drawn = 0.0
    for done, stored in enumerate(events, 1):
        yield stored
        now = time.monotonic()
        if now - drawn >= PROGRESS_EVERY:
            drawn = now
            share = f" ({done / total:.0%})" if total else ""
            out.write(f"\rreplaying: {done:,} of {total:,} events{share}")
            out.flush()
    out.write("\r\033[K")
    out.flush()


def run(args: argparse.Namespace) -> int:
    """Replay the stored events of a window with the candidate rules; print what changes."""
    if args.since and args.until and args.since >= args.until:
        print("replay: --since must be before --until", file=sys.stderr)
        return 2
    candidate = load_policy(rules_dir(args))
    if candidate is None:
        return 1
    baseline = None
    if args.baseline is not None:
        baseline = load_policy(args.baseline.resolve())
        if baseline is None:
            return 1
    url = database_url(args.database)
    store = Store(create_engine(url))
    try:
        with store.read() as conn:
            if not repo.records_snapshots(conn):
                print(
                    f"replay: {store.engine.url.render_as_string(hide_password=True)} does not "
                    "record the state of events; run `escalation migrate` and let events arrive",
                    file=sys.stderr,
                )
                return 1
            window = {"since": args.since, "until": args.until, "limit": args.limit}
            events: Iterable[StoredForReplay] = repo.events_for_replay(conn, **window)
            if sys.stderr.isatty():
                events = _progress(events, repo.count_for_replay(conn, **window), sys.stderr)
            report = replay(events, candidate, baseline)
    except sa.exc.SQLAlchemyError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"replay: cannot read the database: {first}", file=sys.stderr)
        return 1
    finally:
        store.engine.dispose()
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        print_report(report, "the recorded decisions" if baseline is None else str(args.baseline))
    return 0


def _verdict(verdict: Verdict) -> str:
    parts = [verdict.outcome]
    if verdict.escalations:
        parts.append("to " + ", ".join(f"{to} ({mode})" for to, mode in verdict.escalations))
    parts.append(f"route {verdict.route_to or '-'}")
    parts.append(f"priority {verdict.priority}")
    parts.append("rules " + (", ".join(verdict.matched) or "-"))
    return "; ".join(parts)


def print_report(report: ReplayReport, before: str, out: TextIO | None = None) -> None:
    """Print a replay report for a person."""
    out = out or sys.stdout
    rate_before, rate_after = report.escalation_rate
    skipped = f", {report.skipped:,} skipped (no recorded state)" if report.skipped else ""
    print(f"{report.events:,} events replayed{skipped}; compared with {before}.", file=out)
    if report.from_kept_signals:
        print(
            f"{report.from_kept_signals:,} of them had their text purged: decided from the "
            "signals kept when they arrived.",
            file=out,
        )
    print(f"{report.changed:,} decisions change.", file=out)
    print(f"Escalation rate: {rate_before:.1%} before, {rate_after:.1%} after.", file=out)
    if report.by_rule:
        width = max(len(rule) for rule in report.by_rule)
        print(f"\nBy rule:\n  {'':{width}}  fires more  fires less", file=out)
        for rule, counts in report.by_rule.items():
            print(
                f"  {rule:{width}}  {counts['fires_more']:>10,}  {counts['fires_less']:>10,}",
                file=out,
            )
    if report.by_outcome:
        print("\nBy outcome (changed decisions):", file=out)
        width = max(len(key) for key in report.by_outcome)
        for key, count in report.by_outcome.items():
            print(f"  {key:{width}}  {count:>8,}", file=out)
    if report.examples:
        print(f"\nExamples (first {len(report.examples)} of {report.changed:,}):", file=out)
        for change in report.examples:
            print(
                f"  case {change.case_id}, event {change.event_id}, "
                f"{change.occurred_at.isoformat()}",
                file=out,
            )
            print(f"    before: {_verdict(change.before)}", file=out)
            print(f"    after:  {_verdict(change.after)}", file=out)
