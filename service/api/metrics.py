"""GET /metrics: Prometheus text format, every worker's counts and the escalation rate."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, request
from prometheus_client.exposition import (
    CONTENT_TYPE_PLAIN_0_0_4,
    choose_encoder,
    generate_latest,
)

from service import metrics
from service.api.context import services
from service.store import repository as repo

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape() -> Response:
    """Return the metrics of this process or of every worker, and the last hour's rate."""
    svc = services()

    def counts(since: datetime) -> tuple[int, int]:
        with svc.store.read() as conn:
            return repo.escalation_counts(conn, since)

    registry = metrics.scrape_registry(metrics.EscalationRate(counts, svc.clock))
    # Text format 0.0.4 unless the scraper asks for OpenMetrics or a newer text format.
    try:
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    except (TypeError, ValueError):  # a version it cannot compare, e.g. "version=abc"
        encode, content_type = generate_latest, CONTENT_TYPE_PLAIN_0_0_4
    return Response(encode(registry), content_type=content_type)
