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
# Reused: building a schema costs more than loading or dumping with it.
ESCALATION_STATS_QUERY_V1 = EscalationStatsQueryV1Schema()
ESCALATION_STATS_V1 = EscalationStatsV1Schema()
RULES_LISTED = 50


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@bp.get("/v1/stats/escalations")
def escalation_stats() -> dict[str, Any]:
    """Return decisions and escalations per bucket over the window, and by rule."""
    query = body.validate(ESCALATION_STATS_QUERY_V1, request.args.to_dict())
    window: timedelta = query["window"]
    bucket: timedelta = query["bucket"]
    until = services().clock()
    width = int(bucket.total_seconds())
    # Buckets start on whole multiples of their width (whole hours for 1h), so the bars
    # of two requests a minute apart line up; the first one reaches back past the window.
    since = datetime.fromtimestamp(int((until - window).timestamp()) // width * width, UTC)
    count = -(-int((until - since).total_seconds()) // width)
    with services().store.read() as conn:
        # All decisions counted last: a decision committed meanwhile (each statement may
        # see newer rows on PostgreSQL) then adds to the total too, never only to a part.
        escalated = ops.bucket_counts(conn, since, until, width, ops.ESCALATE)
        routed = sum(ops.bucket_counts(conn, since, until, width, ops.ROUTE).values())
        decided = ops.bucket_counts(conn, since, until, width)
        rules = ops.counts_by_rule(conn, since, until, RULES_LISTED)
    series = [
        {
            "start": since + i * bucket,
            "decisions": decided.get(i, 0),
            "escalations": escalated.get(i, 0),
            "rate": _rate(escalated.get(i, 0), decided.get(i, 0)),
        }
        for i in range(count)
    ]
    decisions = sum(decided.values())
    escalations = sum(escalated.values())
    by_outcome = {
        "escalate": escalations,
        "route": routed,
        "none": decisions - escalations - routed,
    }
    stats: dict[str, Any] = ESCALATION_STATS_V1.dump(
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
