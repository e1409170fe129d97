"""Metric definitions: the escalation-rate gauge read from the database, and bounded labels."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from schemas.api import EventV1Schema
from service import metrics
from service.claimer import Claimer
from service.ingest import ingest
from service.policy import Policy
from service.store import repository as repo
from service.store.db import create_engine, migrate
from service.store.repository import Store
from service.webhooks.sender import Sender
from tests.support.databases import BACKENDS, database_url
from tests.support.receiver import Receiver
from tests.unit.test_claimer import CALLBACK_AT, at, promise
from tests.unit.webhooks.test_sender import decide, register

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    engine = create_engine(database_url(request.param, tmp_path, request))
    migrate(engine, tmp_path / "migrate.lock")
    yield Store(engine)
    engine.dispose()


def post(store: Store, policy: Policy, case_id: str, event_type: str, at: datetime) -> str:
    """Store one event received at ``at``; return its decision's outcome."""
    raw: dict[str, Any] = {
        "event_id": f"{case_id}-{event_type}-{at.timestamp()}",
        "type": event_type,
        "occurred_at": at.isoformat(),
        "channel": "chat",
        "customer": {"id": f"cus-{case_id}"},
    }
    decided = ingest(store, policy, case_id, EventV1Schema().load(raw), raw, clock=lambda: at)
    return str(decided.decision.outcome)


def gauges(store: Store, now: datetime) -> dict[str, float]:
    def counts(since: datetime) -> tuple[int, int]:
        with store.read() as conn:
            return repo.escalation_counts(conn, since)

    collector = metrics.EscalationRate(counts, lambda: now)
    return {family.name: family.samples[0].value for family in collector.collect()}


def test_the_escalation_rate_is_the_share_of_events_stored_in_the_last_hour(
    store: Store, policy: Policy
) -> None:
    outside = post(store, policy, "C-old", "supervisor_requested", NOW - timedelta(minutes=61))
    inside = [
        post(store, policy, "C-1", "supervisor_requested", NOW - timedelta(minutes=50)),
        post(store, policy, "C-2", "customer_message", NOW - timedelta(minutes=20)),
        post(store, policy, "C-3", "customer_message", NOW - timedelta(minutes=10)),
        post(store, policy, "C-4", "case_assigned", NOW - timedelta(minutes=1)),
    ]
    # The test means something only with both kinds of outcome inside the window.
    assert outside == "escalate"
    assert inside.count("escalate") == 1

    assert gauges(store, NOW) == {
        "escalation_escalation_rate_last_hour": 0.25,
        "escalation_events_last_hour": 4,
        "escalation_escalated_events_last_hour": 1,
    }
    # Eleven minutes on, the escalation of 50 minutes ago has left the window.
    assert gauges(store, NOW + timedelta(minutes=11)) == {
        "escalation_escalation_rate_last_hour": 0.0,
        "escalation_events_last_hour": 3,
        "escalation_escalated_events_last_hour": 0,
    }


def test_no_events_in_the_last_hour_is_a_rate_of_zero(store: Store, policy: Policy) -> None:
    post(store, policy, "C-1", "supervisor_requested", NOW - timedelta(hours=2))

    assert gauges(store, NOW)["escalation_escalation_rate_last_hour"] == 0.0
    assert gauges(store, NOW)["escalation_events_last_hour"] == 0


def test_the_window_ends_at_the_clock() -> None:
    asked: list[datetime] = []

    def counts(since: datetime) -> tuple[int, int]:
        asked.append(since)
        return 8, 2

    families = list(metrics.EscalationRate(counts, lambda: NOW).collect())

    assert asked == [NOW - timedelta(hours=1)]
    assert families[0].samples[0].value == 0.25


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


DECISION = {
    "outcome": "escalate",
    "rules_revision": "sha256:unit",
    "duration_ms": 2.0,
    "matched_rules": [{"id": "unit-rule", "why": "secret words"}],
    "escalations": [{"to": "supervisor", "rule": "unit-rule", "mode": "escalate"}],
    "signals": [{"name": "supervisor_demand", "language": "xx", "evidence": "secret words"}],
}


def test_a_decision_counts_its_outcome_rules_targets_signals_and_latency() -> None:
    before = {
        "decisions": sample(
            "escalation_decisions_total",
            source="evaluate",
            outcome="escalate",
            revision="sha256:unit",
        ),
        "rule": sample("escalation_rule_matches_total", rule="unit-rule", revision="sha256:unit"),
        "target": sample("escalation_escalations_total", target="supervisor", rule="unit-rule"),
        "signal": sample("escalation_signals_total", signal="supervisor_demand", language="xx"),
        "latency": sample("escalation_evaluation_seconds_count", source="evaluate"),
    }

    metrics.count_decision(DECISION, "evaluate")

    after = {
        "decisions": sample(
            "escalation_decisions_total",
            source="evaluate",
            outcome="escalate",
            revision="sha256:unit",
        ),
        "rule": sample("escalation_rule_matches_total", rule="unit-rule", revision="sha256:unit"),
        "target": sample("escalation_escalations_total", target="supervisor", rule="unit-rule"),
        "signal": sample("escalation_signals_total", signal="supervisor_demand", language="xx"),
        "latency": sample("escalation_evaluation_seconds_count", source="evaluate"),
    }
    assert {k: after[k] - before[k] for k in after} == dict.fromkeys(after, 1.0)


def test_a_candidate_rule_set_mints_no_rule_or_signal_series() -> None:
    candidate = {
        **DECISION,
        "rules_revision": "sha256:made-up",
        "matched_rules": [{"id": "caller-chosen-id", "why": ""}],
        "escalations": [{"to": "caller-chosen-target", "rule": "caller-chosen-id"}],
        "signals": [{"name": "caller-chosen-signal", "language": "zz"}],
    }
    before = sample(
        "escalation_decisions_total", source="evaluate", outcome="escalate", revision="candidate"
    )

    metrics.count_decision(candidate, "evaluate", candidate=True)

    after = sample(
        "escalation_decisions_total", source="evaluate", outcome="escalate", revision="candidate"
    )
    assert after - before == 1
    exposed = "\n".join(
        f"{s.name}{s.labels}" for family in REGISTRY.collect() for s in family.samples
    )
    assert "caller-chosen" not in exposed
    assert "sha256:made-up" not in exposed


def test_unknown_methods_share_one_label() -> None:
    before = sample(
        "escalation_http_requests_total", method="other", endpoint="unmatched", status="405"
    )

    metrics.count_request("BREW", "unmatched", 405, 0.001)

    assert (
        sample("escalation_http_requests_total", method="other", endpoint="unmatched", status="405")
        == before + 1
    )


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [(204, None, "2xx"), (410, None, "4xx"), (503, None, "5xx"), (None, "timeout", "timeout"),
     (None, "network error (ConnectError)", "network")],
)
def test_webhook_responses_have_bounded_names(
    status: int | None, error: str | None, expected: str
) -> None:
    assert metrics.response_class(status, error) == expected


def test_the_endpoint_serves_prometheus_text_with_the_rate(client: FlaskClient) -> None:
    client.post(
        "/v1/cases/M-1/events",
        json={
            "event_id": "m-1",
            "type": "supervisor_requested",
            "occurred_at": "2026-11-22T10:00:00Z",
            "channel": "chat",
            "customer": {"id": "cus-m"},
        },
    )

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.get_data(as_text=True))}
    assert families["escalation_events_last_hour"].samples[0].value == 1
    assert families["escalation_escalation_rate_last_hour"].samples[0].value == 1.0
    assert "escalation_decisions" in families
    assert "escalation_http_request_duration_seconds" in families


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        ("text/plain; version=abc", "text/plain; version=0.0.4"),
        ("application/openmetrics-text; version=x.y", "text/plain; version=0.0.4"),
        (";;;", "text/plain; version=0.0.4"),
        ("application/openmetrics-text; version=1.0.0", "application/openmetrics-text"),
        ("text/plain; version=1.0.0; escaping=bogus", "text/plain; version=1.0.0"),
    ],
)
def test_any_accept_header_gets_metrics(client: FlaskClient, accept: str, content_type: str) -> None:
    response = client.get("/metrics", headers={"Accept": accept})

    assert response.status_code == 200
    assert response.content_type.startswith(content_type)
    assert b"escalation_events_last_hour" in response.data


def test_a_database_failure_leaves_out_the_rate_and_nothing_else() -> None:
    def broken(since: datetime) -> tuple[int, int]:
        raise ConnectionError("database down")

    registry = metrics.scrape_registry(metrics.EscalationRate(broken, lambda: NOW))
    names = {family.name for family in registry.collect()}

    assert "escalation_escalation_rate_last_hour" not in names
    assert "escalation_decisions" in names


def total(name: str, **labels: str) -> float:
    """Add up the samples of ``name`` in this process whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(
        s.value
        for family in REGISTRY.collect()
        for s in family.samples
        if s.name == name and wanted <= set(s.labels.items())
    )


def test_a_fired_deadline_counts_as_a_time_driven_decision(store: Store, policy: Policy) -> None:
    promise(store, policy)
    before = {
        "decisions": total("escalation_decisions_total", source="timer"),
        "time_driven": total("escalation_time_driven_decisions_total"),
        "warnings": total("escalation_time_driven_decisions_total", state="warning"),
    }

    fired = Claimer(store, lambda: policy, clock=at(CALLBACK_AT + timedelta(hours=1))).poll()

    assert fired >= 2  # the warning and the breach of the promised call-back at least
    assert total("escalation_decisions_total", source="timer") - before["decisions"] == fired
    assert total("escalation_time_driven_decisions_total") - before["time_driven"] == fired
    assert total("escalation_time_driven_decisions_total", state="warning") > before["warnings"]


def test_webhook_attempts_count_by_status_and_response(store: Store) -> None:
    name = "escalation_webhook_deliveries_total"
    retry = {"status": "pending", "response": "5xx"}
    delivered = {"status": "delivered", "response": "2xx"}
    before = (total(name, **retry), total(name, **delivered))
    with Receiver(answers=[(503, {})]) as receiver:
        register(store, receiver.url)
        decide(store)
        sender = Sender(store, schedule=(0.0, 0.0, 0.0))
        assert sender.run_once() == 1  # 503: pending again
        assert sender.run_once() == 1  # 200: delivered

    assert (total(name, **retry), total(name, **delivered)) == (before[0] + 1, before[1] + 1)
