"""Two gunicorn servers (two workers each) on one PostgreSQL: every decision is sent once."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.webhooks.outbox import CACHE_SECONDS
from tests.support.events import body
from tests.support.receiver import Receiver
from tests.support.server import Server
from tests.support.wait import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ENV = {"ESCALATION_WEBHOOK_SEND_SECONDS": "0.1", "ESCALATION_ACCESS_LOG": "/dev/null"}
_cases = itertools.count()


@pytest.fixture
def servers(tmp_path: Path, postgres_schema: str) -> Iterator[tuple[Server, Server]]:
    with (
        Server(tmp_path / "a", database_url=postgres_schema, **ENV) as a,
        Server(tmp_path / "b", database_url=postgres_schema, **ENV) as b,
    ):
        yield a, b


def decide(server: Server, text: str = "Hello") -> str:
    response = server.client.post(f"/v1/cases/C-{next(_cases)}/events", json=body(text=text))
    assert response.status_code in (200, 201), response.text
    decision_id: str = response.json()["decision_id"]
    return decision_id


def deliveries(server: Server) -> list[dict[str, Any]]:
    response = server.client.get("/v1/webhooks/tickets/deliveries?limit=200")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["deliveries"]
    return found


def test_each_decision_is_sent_once_by_one_of_two_servers(
    servers: tuple[Server, Server],
) -> None:
    a, b = servers
    with Receiver() as receiver:
        registered = a.client.put("/v1/webhooks/tickets", json={"url": receiver.url})
        assert registered.status_code == 201, registered.text
        # Every worker reads the endpoints again once its cached list is older than
        # CACHE_SECONDS: past that, each of them queues for the new endpoint.
        settled = time.monotonic() + CACHE_SECONDS + 0.5
        wait_until(lambda: time.monotonic() >= settled, message="the clock stood still")

        decided = {decide(a if n % 2 else b) for n in range(40)}

        def all_delivered() -> list[dict[str, Any]] | None:
            found = deliveries(b)
            return found if all(d["status"] == "delivered" for d in found) else None

        final = wait_until(all_delivered, message=lambda: f"deliveries: {deliveries(a)[:3]}")
        received = Counter(r.headers["webhook-id"] for r in receiver.received)

    queued = {d["decision_id"] for d in final}
    assert decided == queued
    assert set(received) == queued
    assert [i for i, n in received.items() if n > 1] == []
    assert all(len(d["attempts"]) == 1 for d in final)
