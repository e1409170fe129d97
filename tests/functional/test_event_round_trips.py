"""The network round trips one posted event costs on PostgreSQL, counted by a proxy.

Statements are not the cost on a network: waiting for the server is.  The
application's engine talks to the server through ``RoundTripProxy``, which
counts every burst the client sends after the server answered.  Only the
ingest of the event is counted (the decision log's outbox flag and the
background pollers are not part of it), so the test wraps ``ingest``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from service.api import cases as cases_api
from service.policy import Policy
from service.store.schema import cases, deadlines, events, webhook_deliveries
from tests.conftest import open_app
from tests.support.events import body
from tests.support.roundtrips import RoundTripProxy

pytestmark = pytest.mark.postgres

MOST = 4


def counting(proxy: RoundTripProxy, spent: list[int]) -> Callable[..., Any]:
    """Return ``ingest`` wrapped to note the round trips each call costs."""
    real = cases_api.ingest

    def counted_ingest(*args: Any, **kwargs: Any) -> Any:
        before = proxy.trips
        try:
            return real(*args, **kwargs)
        finally:
            spent.append(proxy.trips - before)

    return counted_ingest


@pytest.fixture
def counted(
    tmp_path: Path, policy: Policy, postgres_schema: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Flask, list[int]]]:
    """Yield an app whose database traffic goes through the proxy, and each ingest's round trips."""
    with RoundTripProxy() as proxy:
        for application in open_app(tmp_path, policy, proxy.route(postgres_schema)):
            services = application.extensions["escalation"]
            # Quiet the background threads: their queries would land in the counts.
            services.policies.stop()
            services.keys.stop()
            application.extensions["webhook_sender"].stop()
            application.extensions["text_purger"].stop()
            spent: list[int] = []
            monkeypatch.setattr(cases_api, "ingest", counting(proxy, spent))
            yield application, spent


def post(client: FlaskClient, case_id: str, event: dict[str, Any], status: int = 201) -> None:
    response = client.post(f"/v1/cases/{case_id}/events", json=event)
    assert response.status_code == status, response.get_json()


def test_every_kind_of_event_costs_at_most_four_round_trips(
    counted: tuple[Flask, list[int]],
) -> None:
    application, spent = counted
    client = application.test_client()
    assert client.put("/v1/agents/ag-1", json={"skills": ["billing"]}).status_code == 201
    assert (
        client.put("/v1/webhooks/tickets", json={"url": "https://example.com/hooks"}).status_code
        == 201
    )

    # A new case and a new customer; the same case again; a case without a customer.
    post(client, "C-rt-1", body(event_id="rt-1", customer={"id": "cus-rt"}))
    post(client, "C-rt-1", body(event_id="rt-2", customer={"id": "cus-rt"}))
    post(client, "C-rt-2", body(event_id="rt-3", customer=None, agent=None))
    # A retry of a stored event answers the stored decision.
    post(client, "C-rt-1", body(event_id="rt-2", customer={"id": "cus-rt"}), status=200)
    # An email starts the written-first-response timer (deadline rows), an agent
    # reply stops it; every decision is queued for the webhook endpoint.
    post(client, "C-rt-3", body(event_id="rt-4", channel="email", text="Where is my refund?"))
    post(client, "C-rt-3", body(event_id="rt-5", type="agent_reply", channel="email"))
    # The agent's profile changed: the next event reads it again.
    assert client.put("/v1/agents/ag-1", json={"skills": ["refunds"]}).status_code == 200
    post(client, "C-rt-3", body(event_id="rt-6", channel="email"))

    assert len(spent) == 7
    print("round trips per event:", spent)
    assert max(spent) <= MOST, spent
    assert min(spent) >= 1, spent
    # What those round trips carried was stored: every event but the retry, its
    # case counts, the timer's rows, a delivery per decision.
    engine = application.extensions["escalation"].store.engine
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(events)).scalar() == 6
        assert (
            conn.execute(sa.select(cases.c.event_count).where(cases.c.case_id == "C-rt-3")).scalar()
            == 3
        )
        rows = conn.execute(
            sa.select(deadlines.c.timer_id, deadlines.c.state, deadlines.c.started_by)
            .where(deadlines.c.case_id == "C-rt-3")
            .order_by(deadlines.c.id)
        ).all()
        response = "written-first-response"
        # Started by the email, stopped by the reply (cancelled rows stay), started again;
        # the case-inactive timer's row restarted by each event, its old one deleted.
        assert [tuple(r) for r in rows if r.timer_id == response] == [
            (response, "cancelled", "rt-4"),
            (response, "cancelled", "rt-4"),
            (response, "pending", "rt-6"),
            (response, "pending", "rt-6"),
        ]
        queued = conn.execute(sa.select(sa.func.count()).select_from(webhook_deliveries))
        assert queued.scalar() == 6
