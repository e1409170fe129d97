"""Message text retention: purged text leaves the table; decisions, duplicates and replay stay."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from service import create_app
from service.cli import main as cli
from service.policy import Policy
from service.replay import replay_window
from service.store.schema import events
from tests.support.databases import database_url
from tests.support.events import at, body
from tests.support.keys import authorize
from tests.support.wait import wait_until

START = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
OLD_TEXTS = (
    "Honestly, I will sue you over this parcel",
    "Get me your manager right now, please",
    "Where is my parcel? It is a week late",
)
RECENT_TEXT = "I will sue you, I mean it this time"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=("sqlite", pytest.param("postgres", marks=pytest.mark.postgres)))
def clocked(
    request: pytest.FixtureRequest, tmp_path: Path, policy: Policy
) -> Iterator[tuple[Flask, Clock]]:
    clock = Clock(START)
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DECISION_LOG": str(tmp_path / "decisions.jsonl"),
            "DATABASE_URL": database_url(request.param, tmp_path, request),
            "DECISION_LOG_FLUSH_SECONDS": 0,
            "TIMER_POLL_SECONDS": 0,
            "TEXT_PURGE_SECONDS": 0,  # the test purges by hand
        },
        policy=policy,
        clock=clock,
    )
    authorize(app)
    yield app, clock
    services = app.extensions["escalation"]
    services.policies.stop()
    services.keys.stop()
    app.extensions["webhook_sender"].stop()
    services.decision_log.close()
    services.store.engine.dispose()


def _rows(app: Flask) -> list[Any]:
    with app.extensions["escalation"].store.read() as conn:
        return list(conn.execute(sa.select(events).order_by(events.c.seq)))


def _decisions(app: Flask) -> list[dict[str, Any]]:
    page: dict[str, Any] = app.test_client().get("/v1/decisions?limit=1000").get_json()
    return list(page["decisions"])


def test_purged_text_leaves_the_table_and_decisions_duplicates_and_replay_stay(
    clocked: tuple[Flask, Clock], policy: Policy
) -> None:
    app, clock = clocked
    client = app.test_client()
    sent = [body(text=text, occurred_at=at(n)) for n, text in enumerate(OLD_TEXTS)]
    for event in sent:
        assert client.post("/v1/cases/C-1/events", json=event).status_code == 201
    clock.now = START + timedelta(days=20)
    recent = body(text=RECENT_TEXT, occurred_at=at(60 * 24 * 20))
    assert client.post("/v1/cases/C-1/events", json=recent).status_code == 201
    # The feed shows a decision once older writers on the server have finished.
    before = wait_until(lambda: len(_decisions(app)) == 4 and _decisions(app))

    clock.now = START + timedelta(days=30, minutes=1)
    purged = app.extensions["text_purger"].run_once()
    again = app.extensions["text_purger"].run_once()

    rows = _rows(app)
    stored = [json.dumps([dict(r._mapping)[c] for c in ("event", "decision")]) for r in rows]
    assert (purged, again) == (3, 0)
    assert [r.purged_at is not None for r in rows] == [True, True, True, False]
    assert all("text" not in r.event for r in rows[:3])
    assert not [t for t in OLD_TEXTS if any(t in row for row in stored)]
    assert rows[3].event["text"] == RECENT_TEXT
    assert [[s["name"] for s in r.kept_signals] for r in rows[:3]] == [
        [s["name"] for s in r.decision["signals"]] for r in rows[:3]
    ]
    assert {s["name"] for s in rows[0].kept_signals} >= {"legal_threat"}
    assert all("evidence" not in s for r in rows[:3] for s in r.kept_signals)
    assert _decisions(app) == before  # decisions intact
    retry = client.post("/v1/cases/C-1/events", json=sent[0])
    assert retry.status_code == 200
    assert retry.get_json()["decision_id"] == before[0]["decision_id"]

    report = replay_window(app.extensions["escalation"].store, policy)
    # Without the kept signals the legal threat would be decided again without one.
    assert (report.events, report.changed, report.from_kept_signals) == (4, 0, 3)


def test_the_purge_command_purges_what_is_past_the_retention(
    tmp_path: Path,
    policy: Policy,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"sqlite:///{tmp_path / 'escalation.db'}"
    # Received on a fixed day in the past: more than a day before the command runs.
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DECISION_LOG": str(tmp_path / "decisions.jsonl"),
            "DATABASE_URL": url,
            "TIMER_POLL_SECONDS": 0,
            "TEXT_PURGE_SECONDS": 0,
        },
        policy=policy,
        clock=Clock(START),
    )
    authorize(app)
    event = body(text=OLD_TEXTS[0], occurred_at=START.isoformat())
    assert app.test_client().post("/v1/cases/C-1/events", json=event).status_code == 201
    app.extensions["escalation"].policies.stop()
    app.extensions["escalation"].keys.stop()
    app.extensions["webhook_sender"].stop()
    monkeypatch.setenv("ESCALATION_INSTANCE_PATH", str(tmp_path / "instance"))

    status = cli(["purge", "--database", url, "--days", "1"])
    again = cli(["purge", "--database", url])

    out = capsys.readouterr().out
    assert (status, again) == (0, 0)
    assert "purged the message text of 1 event(s)" in out
    assert "purged the message text of 0 event(s)" in out
    assert [r.purged_at is not None for r in _rows(app)] == [True]
    app.extensions["escalation"].store.engine.dispose()
