"""Prometheus metrics of the service: every ``escalation_*`` series, defined once.

Under gunicorn, ``gunicorn.conf.py`` sets ``PROMETHEUS_MULTIPROC_DIR`` before
any worker imports prometheus_client, so every worker writes its counts to
files there and ``GET /metrics`` adds them up (dead workers' counts included).
In a single process (tests, the command line) the default registry holds them.

Label values are bounded: outcomes, sources, statuses, route templates, and
rule, target, signal and language names of the active rule set; never an id
or a text.  Decisions made with a candidate rule set (a dry run naming one)
count under the revision ``candidate`` without rule, target or signal labels,
so callers cannot mint series.

The escalation rate over the last hour is not a counter: ``EscalationRate``
computes it at scrape time from the database, so it is exact across workers
and servers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

Metric = TypeVar("Metric", Counter, Histogram)
# The _created series double every counter's output and mean nothing across workers.
disable_created_metrics()  # type: ignore[no-untyped-call]

log = logging.getLogger(__name__)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CANDIDATE = "candidate"
# The window of the escalation-rate gauge.
RATE_WINDOW = timedelta(hours=1)
# Decide takes well under a millisecond to tens of milliseconds.
EVALUATION_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
)
REQUEST_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

DECISIONS = Counter(
    "escalation_decisions_total",
    "Decisions made, by source (event, evaluate, timer), outcome and rules revision.",
    ("source", "outcome", "revision"),
)
RULE_MATCHES = Counter(
    "escalation_rule_matches_total",
    "Rules that matched in a decision, by rule id and rules revision.",
    ("rule", "revision"),
)
ESCALATIONS = Counter(
    "escalation_escalations_total",
    "Escalations in decisions, by target and the rule that asked for it.",
    ("target", "rule"),
)
SIGNALS = Counter(
    "escalation_signals_total",
    "Text signals detected in decided events, by signal name and language.",
    ("signal", "language"),
)
EVALUATION_SECONDS = Histogram(
    "escalation_evaluation_seconds",
    "Time to decide one event (signals, rules, merge), by source.",
    ("source",),
    buckets=EVALUATION_BUCKETS,
)
TIME_DRIVEN = Counter(
    "escalation_time_driven_decisions_total",
    "Decisions fired by timer deadlines, by timer state (warning, breached) and outcome.",
    ("state", "outcome"),
)
DEADLINE_FAILURES = Counter(
    "escalation_deadline_failures_total",
    "Deadlines whose firing failed and was left for the next poll.",
)
WEBHOOK_ATTEMPTS = Counter(
    "escalation_webhook_deliveries_total",
    "Webhook delivery attempts, by the delivery's status after it "
    "(delivered, pending for a retry, failed) and the response (2xx..5xx, timeout, network).",
    ("status", "response"),
)
HTTP_REQUESTS = Counter(
    "escalation_http_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ("method", "endpoint", "status"),
)
HTTP_SECONDS = Histogram(
    "escalation_http_request_duration_seconds",
    "Time to answer an HTTP request in the application, by method, route template and status.",
    ("method", "endpoint", "status"),
    buckets=REQUEST_BUCKETS,
)
RULE_ACTIVATIONS = Counter(
    "escalation_rule_activations_total",
    "Rule bundles activated here (activate, reload, rollback).",
    ("action",),
)
RULE_ACTIVATION_FAILURES = Counter(
    "escalation_rule_activation_failures_total",
    "Activations refused, by action and reason (invalid, guard).",
    ("action", "reason"),
)
RULE_RELOADS = Counter(
    "escalation_rules_reloads_total",
    "Times a worker switched to another rules revision (its own activation or a poll).",
)
STORE_ERRORS = Counter(
    "escalation_store_errors_total",
    "Database errors while storing events, by kind: retried (busy, deadlock, race) "
    "or busy (every retry failed: answered 503).",
    ("kind",),
)
DECISION_LOG_FAILURES = Counter(
    "escalation_decision_log_write_failures_total",
    "Decision-log lines that could not be written.",
)


def _child(metric: Metric, *values: str) -> Metric:
    """Return ``metric.labels(*values)``, reading prometheus_client's table of children first.

    ``labels`` takes a lock and builds a tuple for every call, several per request;
    a child once made stays in that table (until ``remove``, when ``labels`` makes it
    again), and reading a dict needs no lock.
    """
    child = cast("Metric | None", metric._metrics.get(values))
    return child if child is not None else metric.labels(*values)


def multiprocess_mode() -> bool:
    """Return whether metrics live in files shared by worker processes."""
    return bool(os.environ.get(MULTIPROC_ENV))


def count_decision(decision: Mapping[str, Any], source: str, *, candidate: bool = False) -> None:
    """Count one decision (wire or stored form): outcome, rules, escalations, signals, latency.

    ``candidate``: made with a rule set other than the active one; only its
    outcome and latency are counted, under the revision ``candidate``.
    """
    revision = CANDIDATE if candidate else str(decision.get("rules_revision", ""))
    _child(DECISIONS, source, str(decision.get("outcome", "")), revision).inc()
    duration = decision.get("duration_ms")
    if isinstance(duration, int | float):
        _child(EVALUATION_SECONDS, source).observe(duration / 1000)
    if candidate:
        return
    for matched in decision.get("matched_rules", ()):
        _child(RULE_MATCHES, str(matched.get("id", "")), revision).inc()
    for escalation in decision.get("escalations", ()):
        _child(ESCALATIONS, str(escalation.get("to", "")), str(escalation.get("rule", ""))).inc()
    for signal in decision.get("signals", ()):
        _child(SIGNALS, str(signal.get("name", "")), str(signal.get("language", ""))).inc()


def count_request(method: str, endpoint: str, status: int, seconds: float) -> None:
    """Count one answered HTTP request and its duration."""
    method = method if method in METHODS else "other"
    code = str(status)
    _child(HTTP_REQUESTS, method, endpoint, code).inc()
    _child(HTTP_SECONDS, method, endpoint, code).observe(seconds)


def response_class(status_code: int | None, error: str | None) -> str:
    """Return a bounded name for a webhook response: 2xx..5xx, timeout or network."""
    if status_code is not None:
        return f"{status_code // 100}xx"
    return "timeout" if error == "timeout" else "network"


# (since) -> (events stored since then, of which escalated)
Counts = Callable[[datetime], tuple[int, int]]


class EscalationRate(Collector):
    """The escalation rate of the last hour, read from the database at every scrape."""

    def __init__(self, counts: Counts, clock: Callable[[], datetime]) -> None:
        self.counts = counts
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Yield the rate and the two counts it is made of; nothing when the database fails."""
        try:
            total, escalated = self.counts(self.clock() - RATE_WINDOW)
        except Exception as exc:
            # The other metrics matter most when the database is down: serve them.
            # The name only: database errors may quote parameters.
            log.warning("escalation rate not read: %s", type(exc).__name__)
            return
        yield GaugeMetricFamily(
            "escalation_escalation_rate_last_hour",
            "Share of events stored in the last hour whose decision escalated (0 when none).",
            value=escalated / total if total else 0.0,
        )
        yield GaugeMetricFamily(
            "escalation_events_last_hour",
            "Events stored in the last hour (all servers).",
            value=total,
        )
        yield GaugeMetricFamily(
            "escalation_escalated_events_last_hour",
            "Events stored in the last hour whose decision escalated (all servers).",
            value=escalated,
        )


class _Default(Collector):
    """The default registry's metrics, as one collector of a per-scrape registry."""

    def collect(self) -> Iterator[Any]:
        """Yield every metric of the default registry."""
        yield from REGISTRY.collect()


def scrape_registry(*extra: Collector) -> CollectorRegistry:
    """Return a registry for one scrape: this process's or every worker's metrics, and ``extra``."""
    registry = CollectorRegistry()
    if multiprocess_mode():
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Default())
    for collector in extra:
        registry.register(collector)
    return registry
