"""Agent profiles are cached per process, and a change through any app reaches every other.

Two applications on one database stand for two workers or two servers: each
has its own cache.  A PUT through one bumps the agents' generation in the
database, which the other reads with its next event, so its next decision is
made from the new profile, not the cached one.
"""

from __future__ import annotations

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
from tests.support.events import body


@pytest.fixture(params=("sqlite", "postgres"))
def two_apps(
    request: pytest.FixtureRequest, tmp_path: Path, policy: Policy
) -> Iterator[tuple[Flask, Flask]]:
    """Yield two applications, each with its own instance folder, on one database."""
    url = database_url(request.param, tmp_path, request)
    for first in open_app(tmp_path / "a", policy, url):
        for second in open_app(tmp_path / "b", policy, url):
            yield first, second


def decided_with(app: Flask, event_id: str) -> dict[str, Any]:
    """Return the agent profile the stored event was decided with."""
    with app.extensions["escalation"].store.engine.connect() as conn:
        snapshot = conn.execute(
            sa.select(events.c.snapshot).where(events.c.event_id == event_id)
        ).scalar_one()
    agent: dict[str, Any] = snapshot["agent"]
    return agent


def post(client: FlaskClient, event: dict[str, Any]) -> None:
    response = client.post("/v1/cases/C-1/events", json=event)
    assert response.status_code == 201, response.get_json()


def test_a_profile_changed_through_one_app_is_used_by_the_other_at_once(
    two_apps: tuple[Flask, Flask],
) -> None:
    first, second = (app.test_client() for app in two_apps)
    assert first.put("/v1/agents/ag-1", json={"skills": ["billing"]}).status_code == 201

    post(first, body(event_id="e-1", agent={"id": "ag-1"}))
    post(first, body(event_id="e-2", agent={"id": "ag-1"}))  # from the cache
    assert decided_with(two_apps[0], "e-2")["skills"] == ["billing"]

    limits = {"max_complexity": 2, "max_hostility": 1, "max_minutes": 20}
    changed = second.put("/v1/agents/ag-1", json={"skills": ["refunds"], "limits": limits})
    assert changed.status_code == 200

    post(first, body(event_id="e-3", agent={"id": "ag-1"}))
    assert decided_with(two_apps[0], "e-3")["skills"] == ["refunds"]
    assert decided_with(two_apps[0], "e-3")["limits"] == limits


def test_a_profile_created_after_its_agent_was_seen_without_one_is_used(
    two_apps: tuple[Flask, Flask],
) -> None:
    first, second = (app.test_client() for app in two_apps)
    post(first, body(event_id="e-1", agent={"id": "ag-new"}))
    assert decided_with(two_apps[0], "e-1")["skills"] == []

    assert second.put("/v1/agents/ag-new", json={"skills": ["legal"]}).status_code == 201

    post(first, body(event_id="e-2", agent={"id": "ag-new"}))
    assert decided_with(two_apps[0], "e-2")["skills"] == ["legal"]
