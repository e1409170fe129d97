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
from flask.testing import FlaskClient

from service.policy import Policy
from service.store.schema import events
from tests.conftest import open_app
from tests.support.databases import database_url
from tests.support.events import at, body
from tests.support.wait import wait_until

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


@pytest.mark.slow
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


@pytest.fixture
def client(backend_app: Flask) -> FlaskClient:
    return backend_app.test_client()


def _ids(client: FlaskClient, query: str) -> tuple[list[str], dict[str, Any]]:
    response = client.get(f"/v1/decisions?{query}")
    assert response.status_code == 200, response.get_json()
    page: dict[str, Any] = response.get_json()
    return [d["event_id"] for d in page["decisions"]], page


def _visible(client: FlaskClient, posted: list[str]) -> None:
    """Wait until the feed shows ``posted``: on PostgreSQL it waits for every older writer
    on the server (other tests' too) to end."""
    wait_until(
        lambda: set(posted) <= set(_ids(client, "limit=1000")[0]),
        message="the posted decisions never showed in the feed",
    )


def _post_five(client: FlaskClient) -> list[str]:
    posted = []
    for n in range(5):
        event = body(text="Hello", occurred_at=at(n))
        assert client.post("/v1/cases/C-1/events", json=event).status_code == 201
        posted.append(event["event_id"])
    _visible(client, posted)
    return posted


def test_pages_read_newest_first_and_a_cursor_reads_either_way(client: FlaskClient) -> None:
    posted = _post_five(client)

    newest, first = _ids(client, "order=desc&limit=2")
    older, second = _ids(client, f"order=desc&limit=2&after={first['next_after']}")
    oldest, third = _ids(client, f"order=desc&limit=2&after={second['next_after']}")
    newer, back = _ids(client, f"order=asc&after={second['reverse_after']}")
    before, _ = _ids(client, f"after={third['next_after']}&order=asc&limit=2")

    assert newest + older + oldest == posted[::-1]
    assert (first["has_more"], second["has_more"], third["has_more"]) == (True, True, False)
    assert newer == posted[3:]  # from the top of the second page, the other way
    assert back["has_more"] is False
    assert before == posted[1:3]


def test_a_follower_at_the_end_keeps_its_place(client: FlaskClient) -> None:
    posted = _post_five(client)
    read, page = _ids(client, "limit=1000")
    empty, again = _ids(client, f"after={page['next_after']}")
    later = body(text="Hello again", occurred_at=at(9))
    client.post("/v1/cases/C-1/events", json=later)
    _visible(client, [later["event_id"]])
    new, _ = _ids(client, f"after={again['next_after']}")

    assert read == posted
    assert empty == []
    assert again["next_after"] == page["next_after"]
    assert new == [later["event_id"]]


def test_the_whole_number_cursors_of_earlier_versions_still_work(client: FlaskClient) -> None:
    posted = _post_five(client)

    after_two, page = _ids(client, "after=2&limit=2")
    rest, _ = _ids(client, f"after={page['next_after']}")
    everything, _ = _ids(client, "after=0")

    assert after_two + rest == posted[2:]
    assert everything == posted


@pytest.mark.parametrize(
    "query",
    [
        "limit=1001",
        "limit=0",
        "order=sideways",
        "after=not-a-cursor",
        "after=" + "9" * 30,
        "after=ZjEuMS4y%FF",
        "after=ZjIuMS4y",  # another version's token
        "after=ZjEuLTEuMg",  # a negative number inside
        "after=" + "A" * 65,
        "after=",
    ],
)
def test_a_bad_page_request_is_a_422_naming_the_field(client: FlaskClient, query: str) -> None:
    response = client.get(f"/v1/decisions?{query}")

    assert response.status_code == 422, response.get_data(as_text=True)
    assert {e["field"] for e in response.get_json()["errors"]} == {query.split("=")[0]}


def test_a_thousand_decisions_fit_one_page(client: FlaskClient) -> None:
    response = client.get("/v1/decisions?limit=1000&order=desc")

    assert response.status_code == 200
    assert response.get_json()["has_more"] is False
