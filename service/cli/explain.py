"""``escalation explain EVENT.json``: decide on one event; say why each rule matched or not."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from marshmallow import Schema, ValidationError

from schemas.api import CaseSnapshotV1Schema, EventV1Schema, ExplainedDecisionV1Schema
from schemas.common import StrictJSONError, field_name, flatten, strict_json
from service import decide
from service.cases.model import Event, Snapshot
from service.cli.common import DEFAULT_RULES, load_policy
from service.engine.explain import show

EXIT_BAD_INPUT = 2


class BadInput(Exception):
    """An input file that is not valid JSON or not a valid event or case."""


def register(subparsers: Any) -> None:
    """Add the ``explain`` subcommand."""
    parser = subparsers.add_parser(
        "explain",
        help="decide on one event; say why every rule matched or did not",
        description=(
            "Decide on the event in EVENT.json (as POST /v1/evaluate takes it; event_id and "
            "occurred_at may be left out) against a case snapshot and a rules directory, and "
            "print the decision, every matched rule with why, and every other rule with the "
            "first condition that failed and the value it saw."
        ),
    )
    parser.add_argument("event", type=Path, metavar="EVENT.json", help="the event")
    parser.add_argument(
        "--case", type=Path, metavar="CASE.json", help="the case snapshot (default: a new case)"
    )
    parser.add_argument(
        "--rules", type=Path, metavar="DIR", default=None, help="rules directory (default: rules/)"
    )
    parser.add_argument("--json", action="store_true", help="print the decision as JSON")
    parser.set_defaults(func=run)


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object from a file strictly, or raise BadInput naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read the file: {exc}") from exc
    try:
        data = strict_json(text)
    except StrictJSONError as exc:
        raise BadInput(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a JSON object")
    return data


def _field(path: tuple[str | int, ...]) -> str:
    return field_name(path) or "(whole file)"


def load(schema: Schema, data: dict[str, Any], path: Path) -> Any:
    """Validate ``data`` with ``schema``, or raise BadInput naming the file and every field."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        problems = [f"  {_field(where)}: {message}" for where, message in flatten(exc.messages)]
        raise BadInput("\n".join([f"{path}: invalid fields:", *problems])) from exc


def read_inputs(args: argparse.Namespace) -> tuple[Event, Snapshot]:
    """Read and validate the event and case files named on the command line."""
    raw_event = read_json(args.event)
    # A dry run from the command line needs no idempotency key or timestamp.
    raw_event.setdefault("event_id", "cli-explain")
    raw_event.setdefault("occurred_at", datetime.now(UTC).isoformat())
    event: Event = load(EventV1Schema(), raw_event, args.event)
    snapshot: Snapshot = Snapshot()
    if args.case is not None:
        snapshot = load(CaseSnapshotV1Schema(), read_json(args.case), args.case)
    return event, snapshot


def render(decision: decide.Decision) -> str:
    """Render a decision with why every rule matched and why every other rule did not."""
    lines = [f"outcome:     {decision.outcome}"]
    escalations = ", ".join(f"{e.to} ({e.mode}, {e.rule})" for e in decision.escalations)
    lines.append(f"escalations: {escalations or '-'}")
    lines.append(f"route to:    {decision.route_to or '-'}")
    lines.append(f"priority:    {decision.priority}")
    lines.append("guidance:" + ("" if decision.guidance else " -"))
    lines.extend(f"  - {g}" for g in decision.guidance)
    for held in decision.suppressed:
        lines.append(f"held back:   {held.to} ({held.rule}) until {held.until.isoformat()}")
    lines.append("")
    lines.append(f"matched ({len(decision.matched)}):")
    lines.extend(f"  {m.rule.id}: {m.why}" for m in decision.matched)
    lines.append("")
    lines.append(f"not matched ({len(decision.not_matched)}):")
    for miss in decision.not_matched:
        lines.append(f"  {miss.rule.id}: {miss.failed.condition}")
        seen = miss.failed.alternatives or (miss.failed,)
        observed = [f"{f.field} = {show(f.observed)}" for f in seen if f.field is not None]
        if observed:
            lines.append(f"      observed {', '.join(observed)}")
    lines.append("")
    lines.append(f"rules revision: {decision.rules_revision}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Decide on one event and print the decision with every rule's reason."""
    try:
        event, snapshot = read_inputs(args)
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    policy = load_policy((args.rules or DEFAULT_RULES).resolve())
    if policy is None:
        return 1
    evaluation = decide.evaluate(
        policy, snapshot, event, case_id=snapshot.case.case_id, explain_misses=True
    )
    if args.json:
        print(json.dumps(ExplainedDecisionV1Schema().dump(evaluation.decision), indent=2))
    else:
        print(render(evaluation.decision))
    return 0
