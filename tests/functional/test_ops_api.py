"""The data of the /ops page: escalation stats, latest decisions, timers due, failing deliveries.

On SQLite and PostgreSQL, with the service's clock set by the test, so every
count lands in a known bucket.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.policy import Policy
from service.store import webhooks as hooks
from tests.support.databases import BACKENDS, database_url
from tests.support.keys import authorize

START = datetime(2026, 11, 22, 8, 10, tzinfo=UTC)
SUPERVISOR = "I want to speak to your manager now."
CALM = "Hello, my parcel has not arrived yet."


@dataclass
class Clock:
    """The service's clock, moved by the test."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture(params=BACKENDS)
def ops_app(
    request: pytest.FixtureRequest, tmp_path: Path, policy: Policy, clock: Clock
) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DECISION_LOG": str(tmp_path / "decisions.jsonl"),
            "DATABASE_URL": database_url(request.param, tmp_path, request),
            "DECISION_LOG_FLUSH_SECONDS": 0,
            "TIMER_POLL_SECONDS": 0,
            "RULES_POLL_SECONDS": 0,
            # The test records attempts itself: nothing is sent.
            "WEBHOOK_SEND_SECONDS": 0,
        },
        policy=policy,
        clock=clock,
    )
    authorize(app)
    yield app
    services = app.extensions["escalation"]
    services.policies.stop()
    services.keys.stop()
    app.extensions["text_purger"].stop()
    services.decision_log.close()
    services.store.engine.dispose()


@pytest.fixture
def ops(ops_app: Flask) -> FlaskClient:
    return ops_app.test_client()


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def post(
    client: FlaskClient,
    clock: Clock,
    case_id: str,
    text: str,
    *,
    channel: str = "chat",
    customer: str | None = None,
) -> dict[str, Any]:
    event = {
        "event_id": f"{case_id}-{clock.now.isoformat()}",
        "type": "customer_message",
        "occurred_at": stamp(clock.now - timedelta(minutes=1)),
        "channel": channel,
        "customer": {"id": customer or f"cus-{case_id}"},
        "agent": {"id": "ag-1"},
        "text": text,
    }
    answer = client.post(f"/v1/cases/{case_id}/events", json=event)
    assert answer.status_code == 201, answer.get_json()
    decided: dict[str, Any] = answer.get_json()
    return decided


def get(client: FlaskClient, path: str, **params: Any) -> dict[str, Any]:
    answer = client.get(path, query_string=params)
    assert answer.status_code == 200, answer.get_json()
    body: dict[str, Any] = answer.get_json()
    return body


def test_the_escalation_rate_is_counted_per_bucket_and_per_rule(
    ops: FlaskClient, clock: Clock
) -> None:
    assert post(ops, clock, "A-1", SUPERVISOR)["outcome"] == "escalate"  # 08:10
    clock.now = START + timedelta(minutes=70)  # 09:20
    assert post(ops, clock, "A-2", CALM)["outcome"] == "none"
    clock.now = START + timedelta(minutes=90)  # 09:40
    assert post(ops, clock, "A-3", SUPERVISOR)["outcome"] == "escalate"
    clock.now = START + timedelta(minutes=115)  # 10:05

    stats = get(ops, "/v1/stats/escalations", window="3h", bucket="1h")

    # 10:05 minus 3 hours is 07:05: the window widens to the whole hour, 07:00.
    assert stats["since"] == "2026-11-22T07:00:00+00:00"
    assert stats["until"] == "2026-11-22T10:05:00+00:00"
    assert (stats["window"], stats["bucket"]) == ("3h", "1h")
    assert [b["start"][11:16] for b in stats["series"]] == ["07:00", "08:00", "09:00", "10:00"]
    assert [b["decisions"] for b in stats["series"]] == [0, 1, 2, 0]
    assert [b["escalations"] for b in stats["series"]] == [0, 1, 1, 0]
    assert [b["rate"] for b in stats["series"]] == [None, 1.0, 0.5, None]
    assert (stats["decisions"], stats["escalations"]) == (3, 2)
    assert stats["rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert stats["by_outcome"] == {"escalate": 2, "route": 0, "none": 1}
    assert stats["by_rule"][0] == {
        "rule": "customer-demands-supervisor",
        "matched": 2,
        "escalated": 2,
        "rate": 1.0,
    }

    # Half-hour buckets over the last hour: 09:00 to 10:05.
    recent = get(ops, "/v1/stats/escalations", window="1h", bucket="30m")
    assert [b["start"][11:16] for b in recent["series"]] == ["09:00", "09:30", "10:00"]
    assert [b["decisions"] for b in recent["series"]] == [1, 1, 0]
    assert recent["escalations"] == 1

    # The defaults: 24 hours per hour.
    default = get(ops, "/v1/stats/escalations")
    assert (default["window"], default["bucket"], len(default["series"])) == ("24h", "1h", 25)
    assert default["decisions"] == 3


def test_latest_decisions_come_newest_first_and_filter_by_case_customer_and_outcome(
    ops: FlaskClient, clock: Clock
) -> None:
    made = []
    for minute, (case_id, text, customer) in enumerate(
        [
            ("L-1", CALM, "cus-a"),
            ("L-2", SUPERVISOR, "cus-b"),
            ("L-1", SUPERVISOR, "cus-a"),
            ("L-3", CALM, "cus-b"),
        ]
    ):
        clock.now = START + timedelta(minutes=minute)
        made.append(post(ops, clock, case_id, text, customer=customer)["decision_id"])

    page = get(ops, "/v1/decisions/latest")
    assert [d["decision_id"] for d in page["decisions"]] == made[::-1]
    assert page["next_before"] is None
    first = page["decisions"][0]
    assert (first["case_id"], first["customer_id"]) == ("L-3", "cus-b")
    assert first["received_at"] == (START + timedelta(minutes=3)).isoformat()

    by_case = get(ops, "/v1/decisions/latest", case_id="L-1")
    assert [d["decision_id"] for d in by_case["decisions"]] == [made[2], made[0]]
    by_customer = get(ops, "/v1/decisions/latest", customer_id="cus-b")
    assert [d["decision_id"] for d in by_customer["decisions"]] == [made[3], made[1]]
    escalated = get(ops, "/v1/decisions/latest", outcome="escalate")
    assert [d["decision_id"] for d in escalated["decisions"]] == [made[2], made[1]]
    assert escalated["decisions"][0]["matched_rules"][0]["id"] == "customer-demands-supervisor"

    # Paging backwards with next_before meets every decision once.
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 3}
    while True:
        page = get(ops, "/v1/decisions/latest", **params)
        seen += [d["decision_id"] for d in page["decisions"]]
        if page["next_before"] is None:
            break
        params["before"] = page["next_before"]
    assert seen == made[::-1]


def test_timers_due_soon_are_listed_soonest_first_and_overdue_ones_flagged(
    ops: FlaskClient, clock: Clock
) -> None:
    # An e-mail starts the 24-hour written-response timer (warning at 75%) and case-inactive.
    post(ops, clock, "T-1", CALM, channel="email")
    started = clock.now - timedelta(minutes=1)

    assert get(ops, "/v1/timers", due_within="1h")["timers"] == []
    soon = get(ops, "/v1/timers")
    assert soon["due_before"] == (clock.now + timedelta(hours=24)).isoformat()
    assert [(t["timer_id"], t["kind"], t["percent"]) for t in soon["timers"]] == [
        ("written-first-response", "warning", 75),
        ("written-first-response", "breach", None),
    ]
    warning = soon["timers"][0]
    assert warning["case_id"] == "T-1"
    assert warning["due_at"] == (started + timedelta(hours=18)).isoformat()
    assert warning["overdue"] is False
    assert warning["channel"] == "email"
    assert soon["more"] is False

    week = get(ops, "/v1/timers", due_within="8d")
    assert [t["timer_id"] for t in week["timers"]][-1] == "case-inactive"
    cut = get(ops, "/v1/timers", due_within="8d", limit=1)
    assert len(cut["timers"]) == 1
    assert cut["more"] is True

    # Past the warning, unfired (no claimer here): listed as overdue.
    clock.now = started + timedelta(hours=19)
    late = get(ops, "/v1/timers", due_within="1h")
    assert [(t["kind"], t["overdue"]) for t in late["timers"]] == [("warning", True)]


def test_failing_deliveries_of_every_endpoint_are_listed_without_payloads(
    ops_app: Flask, ops: FlaskClient, clock: Clock
) -> None:
    hooked = ops.put("/v1/webhooks/tickets", json={"url": "http://127.0.0.1:9/hook"})
    assert hooked.status_code == 201, hooked.get_json()
    for n in range(4):
        clock.now = START + timedelta(minutes=n)
        post(ops, clock, f"W-{n}", SUPERVISOR)
    store = ops_app.extensions["escalation"].store
    with store.write() as conn:
        endpoint = hooks.get_endpoint(conn, "tickets")
        assert endpoint is not None
        oldest_first = hooks.list_deliveries(conn, endpoint.seq)[::-1]
        assert len(oldest_first) == 4
        refused = {"at": "2026-11-22T08:14:00+00:00", "status_code": 503, "error": None}
        timeout = {"at": "2026-11-22T08:14:00+00:00", "status_code": None, "error": "timeout"}
        later = clock.now + timedelta(minutes=5)
        # W-0 has failed for good, W-1 is retried after a timeout, W-2 was delivered,
        # W-3 is queued and not tried yet.
        hooks.record_attempt(
            conn, oldest_first[0].seq, refused, status="failed", next_attempt_at=None, now=later
        )
        hooks.record_attempt(
            conn, oldest_first[1].seq, timeout, status="pending", next_attempt_at=later, now=later
        )
        hooks.record_attempt(
            conn,
            oldest_first[2].seq,
            {**refused, "status_code": 200},
            status="delivered",
            next_attempt_at=None,
            now=later,
        )

    failing = get(ops, "/v1/webhook-deliveries")
    assert [d["delivery_id"] for d in failing["deliveries"]] == [
        oldest_first[1].delivery_id,
        oldest_first[0].delivery_id,
    ]
    retrying, failed = failing["deliveries"]
    assert (retrying["status"], retrying["attempts"]) == ("retrying", 1)
    assert retrying["last_attempt"]["error"] == "timeout"
    assert retrying["next_attempt_at"] == later.isoformat()
    assert (failed["status"], failed["webhook_id"]) == ("failed", "tickets")
    assert failed["last_attempt"]["status_code"] == 503
    assert failed["decision_id"] == oldest_first[0].decision_id
    assert all("payload" not in d for d in failing["deliveries"])
    assert [
        d["status"] for d in get(ops, "/v1/webhook-deliveries", status="failed")["deliveries"]
    ] == ["failed"]
    assert [
        d["status"] for d in get(ops, "/v1/webhook-deliveries", status="retrying")["deliveries"]
    ] == ["retrying"]
    page = get(ops, "/v1/webhook-deliveries", limit=1)
    assert page["next_before"] is not None
    rest = get(ops, "/v1/webhook-deliveries", limit=1, before=page["next_before"])
    assert [d["status"] for d in rest["deliveries"]] == ["failed"]

    # A deleted endpoint's failed deliveries stay listed, without its id; retries are cancelled.
    assert ops.delete("/v1/webhooks/tickets").status_code == 204
    after = get(ops, "/v1/webhook-deliveries")
    assert [(d["status"], d["webhook_id"]) for d in after["deliveries"]] == [("failed", None)]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/stats/escalations?window=2w", "window"),
        ("/v1/stats/escalations?window=24h%0A", "window"),
        ("/v1/stats/escalations?window=0h", "window"),
        ("/v1/stats/escalations?window=32d", "window"),
        ("/v1/stats/escalations?window=1h&bucket=2h", "bucket"),
        ("/v1/stats/escalations?window=31d&bucket=1m", "bucket"),
        ("/v1/stats/escalations?bucket=30s", "bucket"),
        ("/v1/stats/escalations?windw=24h", "windw"),
        ("/v1/stats/escalations?window=%ED%A0%80", "window"),
        ("/v1/stats/escalations?window=99999999999999999999d", "window"),
        ("/v1/timers?due_within=-1h", "due_within"),
        ("/v1/timers?limit=0", "limit"),
        ("/v1/timers?limit=201", "limit"),
        ("/v1/webhook-deliveries?status=pending", "status"),
        ("/v1/webhook-deliveries?before=0", "before"),
        ("/v1/webhook-deliveries?before=99999999999999999999", "before"),
        ("/v1/decisions/latest?limit=abc", "limit"),
        ("/v1/decisions/latest?case_id=a%20b", "case_id"),
        ("/v1/decisions/latest?outcome=escalated", "outcome"),
    ],
)
def test_bad_parameters_are_422_problems_naming_the_field(
    client: FlaskClient, path: str, field: str
) -> None:
    answer = client.get(path)

    assert answer.status_code == 422
    assert answer.mimetype == "application/problem+json"
    problem = answer.get_json()
    assert problem["code"] == "validation_failed"
    assert [e["field"] for e in problem["errors"]] == [field]
