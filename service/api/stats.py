"""GET /v1/stats/escalations: the escalation rate over time and by rule, for operations staff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, request

from schemas.api import EscalationStatsQueryV1Schema, EscalationStatsV1Schema, spell
from service.api import body
from service.api.context import services
from service.store import ops

bp = Blueprint("stats", __name__)
RULES_LISTED = 50


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@bp.get("/v1/stats/escalations")
def escalation_stats() -> dict[str, Any]:
    """Return decisions and escalations per bucket over the window, and by rule."""
    query = body.validate(EscalationStatsQueryV1Schema(), request.args.to_dict())
    window: timedelta = query["window"]
    bucket: timedelta = query["bucket"]
    until = services().clock()
    width = int(bucket.total_seconds())
    # Buckets start on whole multiples of their width (whole hours for 1h), so the bars
    # of two requests a minute apart line up; the first one reaches back past the window.
    since = datetime.fromtimestamp(int((until - window).timestamp()) // width * width, UTC)
    count = -(-int((until - since).total_seconds()) // width)
    decided, escalated = [0] * count, [0] * count
    by_outcome = {"escalate": 0, "route": 0, "none": 0}
    with services().store.read() as conn:
        counted = ops.outcome_counts(conn, since, until, width)
        rules = ops.counts_by_rule(conn, since, until, RULES_LISTED)
    for row in counted:
        if 0 <= row.bucket < count:
            decided[row.bucket] += row.count
            if row.outcome == ops.ESCALATE:
                escalated[row.bucket] += row.count
        by_outcome[row.outcome] = by_outcome.get(row.outcome, 0) + row.count
    series = [
        {
            "start": since + i * bucket,
            "decisions": decided[i],
            "escalations": escalated[i],
            "rate": _rate(escalated[i], decided[i]),
        }
        for i in range(count)
    ]
    decisions = sum(by_outcome.values())
    escalations = by_outcome["escalate"]
    stats: dict[str, Any] = EscalationStatsV1Schema().dump(
        {
            # As asked (24h stays 24h), else the default.
            "window": request.args.get("window") or spell(window),
            "bucket": request.args.get("bucket") or spell(bucket),
            "since": since,
            "until": until,
            "decisions": decisions,
            "escalations": escalations,
            "rate": _rate(escalations, decisions),
            "by_outcome": by_outcome,
            "series": series,
            "by_rule": [
                {**r.__dict__, "rate": _rate(r.escalated, r.matched) or 0.0} for r in rules
            ],
        }
    )
    return stats
