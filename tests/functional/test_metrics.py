"""GET /metrics under gunicorn: every worker's counts added up, dead workers' included.

A real server with four workers takes events and evaluations over many
connections (a fresh connection per request, from many threads, so every
worker answers some); the totals /metrics reports must equal what was sent.
The application log of the same server is checked too: JSON lines, one access
line per request, request ids echoed, and the decision log reopened after a
rename.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import wire_event
from tests.support.server import Server
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow

WORKERS = 4
EVENTS_ROUTE = "/v1/cases/<case_id>/events"
SECRET = "zebra-umbrella-4471 please escalate"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with Server(tmp_path / "instance", workers=WORKERS) as running:
        yield running


def scrape(server: Server) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Return every sample of /metrics by (name, labels)."""
    response = server.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def total(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    """Add up the samples of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def send(server: Server, events: int, evaluations: int, tag: str) -> None:
    """Send events (each to its own case) and evaluations from many threads at once."""
    client = server.client

    def event(i: int) -> int:
        body = wire_event(event_id=f"{tag}-e{i}", text=f"{SECRET} {i}")
        return client.post(f"/v1/cases/{tag}-C{i % 7}/events", json=body).status_code

    def evaluation(i: int) -> int:
        body = {"event": wire_event(event_id=f"{tag}-v{i}", text=SECRET)}
        return client.post("/v1/evaluate", json=body).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(event, range(events))) + list(pool.map(evaluation, range(evaluations)))
    assert set(statuses) <= {200, 201}, statuses


def evaluate_retries(server: Server) -> int:
    return sum("/v1/evaluate" in line for line in server.client.retried)


def event_retries(server: Server) -> int:
    return sum("/events" in line for line in server.client.retried)


def assert_counts(server: Server, events: int, evaluations: int) -> None:
    samples = scrape(server)
    # A retried event finds its decision stored: decisions count each event once, always.
    assert total(samples, "escalation_decisions_total", source="event") == events
    # An evaluation retried after a lost answer may have been decided twice.
    decided = total(samples, "escalation_decisions_total", source="evaluate")
    assert evaluations <= decided <= evaluations + evaluate_retries(server)
    posted = total(samples, "escalation_http_requests_total", method="POST", endpoint=EVENTS_ROUTE)
    assert events <= posted <= events + event_retries(server)
    evaluated = total(
        samples, "escalation_http_request_duration_seconds_count", method="POST", endpoint="/v1/evaluate"
    )
    assert evaluated == total(
        samples, "escalation_http_requests_total", method="POST", endpoint="/v1/evaluate"
    )
    assert evaluations <= evaluated <= evaluations + evaluate_retries(server)
    assert total(samples, "escalation_evaluation_seconds_count") == events + decided
    # Computed from the database at scrape time: every stored event of the last hour.
    assert total(samples, "escalation_events_last_hour") == events
    if not server.client.retried:
        assert decided == evaluations
        assert posted == events
        assert evaluated == evaluations


def test_totals_equal_what_was_sent_across_workers_and_survive_a_killed_worker(
    server: Server,
) -> None:
    send(server, events=60, evaluations=40, tag="a")
    assert_counts(server, events=60, evaluations=40)

    # Kill a worker that served some of what was counted. On a busy machine the
    # kernel may hand every connection to one worker, so the victim is chosen
    # from the access lines rather than assumed; /readyz would not do, it reuses
    # one keep-alive connection.
    answered_a = answering(log_lines(server))
    assert answered_a
    victim = sorted(answered_a)[0]
    server.kill_worker(victim)
    server.wait_for_workers(WORKERS, excluding=(victim,))
    # The dead worker's counts are still in the totals.
    assert_counts(server, events=60, evaluations=40)

    seen = len(log_lines(server))
    send(server, events=25, evaluations=15, tag="b")
    answered_b = answering(log_lines(server)[seen:])
    # Batch b was served by living workers only, so the totals below add up the
    # counts of at least two processes: the dead victim's and a living one's.
    assert answered_b
    assert victim not in answered_b
    assert_counts(server, events=85, evaluations=55)


def answering(lines: list[dict[str, Any]]) -> set[int]:
    """Return the pids of the workers whose access lines show they served events or evaluations."""
    return {
        line["pid"]
        for line in lines
        if line.get("logger") == "service.access" and line.get("route") in (EVENTS_ROUTE, "/v1/evaluate")
    }


def log_lines(server: Server) -> list[dict[str, Any]]:
    """Return the JSON lines of the server's output (gunicorn's own lines are plain text)."""
    return [json.loads(line) for line in server.log_tail(10**9).splitlines() if line.startswith("{")]


def test_the_log_is_json_with_one_access_line_per_request_and_no_message_text(
    server: Server,
) -> None:
    given = f"req-{uuid.uuid4()}"
    response = server.client.post(
        "/v1/evaluate",
        json={"event": wire_event(text=SECRET)},
        headers={"X-Request-ID": given},
    )
    assert response.headers["X-Request-ID"] == given
    generated = server.client.get("/v1/cases/nope?secret=" + SECRET.replace(" ", "+"))
    assert generated.status_code == 404
    assert len(generated.headers["X-Request-ID"]) == 32
    send(server, events=10, evaluations=10, tag="l")

    def access_lines() -> list[dict[str, Any]]:
        return [line for line in log_lines(server) if line.get("logger") == "service.access"]

    wait_until(lambda: len([a for a in access_lines() if a["route"] == "/v1/evaluate"]) >= 11)
    lines = log_lines(server)
    assert lines, server.log_tail()
    for line in lines:
        assert {"timestamp", "level", "logger", "event", "request_id", "pid"} <= set(line)
    assert {line["pid"] for line in lines} <= set(server.worker_pids())
    access = access_lines()
    mine = [a for a in access if a["request_id"] == given]
    assert len(mine) == 1
    assert mine[0] | {"duration_ms": 0, "timestamp": "", "pid": 0} == {
        "timestamp": "",
        "level": "info",
        "logger": "service.access",
        "event": "request",
        "request_id": given,
        "pid": 0,
        "method": "POST",
        "path": "/v1/evaluate",
        "route": "/v1/evaluate",
        "status": 200,
        "duration_ms": 0,
        "key": "test",  # the name of the key the request was admitted with
    }
    posted = [a for a in access if a["route"] == EVENTS_ROUTE]
    assert len(posted) == 10 + event_retries(server)
    assert len({a["request_id"] for a in access}) == len(access)
    unmatched = [a for a in access if a["request_id"] == generated.headers["X-Request-ID"]]
    assert [(a["path"], a["route"], a["status"]) for a in unmatched] == [
        ("/v1/cases/nope", "/v1/cases/<case_id>", 404)
    ]
    # The words of the message never reach the application log, not even from a query string.
    assert "zebra" not in server.log_tail(10**9)


def test_the_decision_log_is_reopened_after_a_rename(server: Server) -> None:
    path = server.instance / "decisions.jsonl"
    send(server, events=4, evaluations=4, tag="r1")
    wait_until(lambda: path.exists() and len(path.read_text().splitlines()) >= 8)
    os.rename(path, path.with_suffix(".jsonl.1"))

    send(server, events=6, evaluations=6, tag="r2")

    def ids(file: Path) -> set[str]:
        return {json.loads(line)["event_id"].split("-")[0] for line in file.read_text().splitlines()}

    # Every worker writes its next line to the new file, none to the renamed one.
    wait_until(lambda: path.exists() and len(path.read_text().splitlines()) >= 12)
    assert ids(path) == {"r2"}
    assert ids(path.with_suffix(".jsonl.1")) == {"r1"}
