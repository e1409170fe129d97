"""GET /v1/decisions as a feed: a follower paging with the cursor sees every decision once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from service.policy import Policy
from service.store.schema import events
from tests.conftest import open_app
from tests.support.databases import database_url
from tests.support.events import at, body
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow

WRITERS = 16
EVENTS_PER_WRITER = 40
PAGE = 7  # small pages: many page ends for a late commit to fall behind


@pytest.fixture(params=("sqlite", pytest.param("postgres", marks=pytest.mark.postgres)))
def feed_app(request: pytest.FixtureRequest, tmp_path: Path, policy: Policy) -> Iterator[Flask]:
    yield from open_app(tmp_path, policy, database_url(request.param, tmp_path, request))


def _write(app: Flask, writer: int, failures: list[str]) -> None:
    client = app.test_client()
    for n in range(EVENTS_PER_WRITER):
        event = body(
            text="Get me your manager" if n % 5 == 0 else "Where is my parcel?",
            occurred_at=at(n),
            customer={"id": f"cus-{writer}"},
        )
        # Each writer has its own case, so the writers never wait on one another's rows.
        response = client.post(f"/v1/cases/W-{writer}/events", json=event)
        if response.status_code not in (200, 201):
            failures.append(f"{response.status_code}: {response.get_data(as_text=True)[:200]}")


def _page(app: Flask, after: Any) -> dict[str, Any]:
    query = f"/v1/decisions?limit={PAGE}" + ("" if after is None else f"&after={after}")
    response = app.test_client().get(query)
    assert response.status_code == 200, response.get_json()
    page: dict[str, Any] = response.get_json()
    return page


def _follow(app: Flask, stop: threading.Event, seen: list[str]) -> None:
    """Page with the cursor, as a consumer of the feed does, until told to stop."""
    after: Any = None
    while not stop.is_set():
        page = _page(app, after)
        seen.extend(d["event_id"] for d in page["decisions"])
        after = page["next_after"] if page["next_after"] is not None else after
        if not page["decisions"]:
            time.sleep(0.01)
    # One more page: anything after the end would be a decision seen twice.
    seen.extend(d["event_id"] for d in _page(app, after)["decisions"])


def test_a_follower_sees_every_decision_once_while_sixteen_writers_post(
    feed_app: Flask,
) -> None:
    stop = threading.Event()
    failures: list[str] = []
    seen: list[str] = []
    writers = [
        threading.Thread(target=_write, args=(feed_app, w, failures)) for w in range(WRITERS)
    ]
    follower = threading.Thread(target=_follow, args=(feed_app, stop, seen))
    follower.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    with feed_app.extensions["escalation"].store.read() as conn:
        stored = set(conn.execute(sa.select(events.c.event_id)).scalars())
    try:
        # On PostgreSQL the feed waits for every older transaction on the server to end.
        wait_until(
            lambda: stored <= set(seen),
            timeout=60,
            message=lambda: f"the follower never saw {sorted(stored - set(seen))}",
        )
    finally:
        stop.set()
        follower.join(timeout=120)

    counts = Counter(seen)
    assert not follower.is_alive()
    assert failures == []
    assert len(stored) == WRITERS * EVENTS_PER_WRITER
    assert [e for e, n in counts.items() if n > 1] == []  # none twice
    assert counts.keys() == stored  # none missed, none invented
