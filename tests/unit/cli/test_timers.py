"""``escalation timers run --once``: fires what is due, logs it, and exits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schemas.api import EventV1Schema
from service.cli import main
from service.ingest import ingest
from service.policy import Policy
from service.store.db import create_engine, migrate
from service.store.repository import Store


def test_timers_run_once_fires_due_deadlines_into_the_decision_log(
    tmp_path: Path,
    policy: Policy,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"sqlite:///{tmp_path / 'escalation.db'}"
    engine = create_engine(url)
    migrate(engine, tmp_path / "migrate.lock")
    past = datetime.now(UTC) - timedelta(hours=1)
    raw = {
        "event_id": "promise-1",
        "type": "callback_promised",
        "occurred_at": past.isoformat(),
        "channel": "phone",
        "attributes": {"callback_at": (past + timedelta(minutes=5)).isoformat()},
    }
    ingest(Store(engine), policy, "C-1", EventV1Schema().load(raw), raw)
    engine.dispose()
    log = tmp_path / "decisions.jsonl"
    monkeypatch.setenv("ESCALATION_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("ESCALATION_DECISION_LOG", str(log))

    assert main(["timers", "run", "--once", "--database", url]) == 0

    assert capsys.readouterr().out.strip() == "fired 2 deadline(s)"
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(x["caller"], x["result"]["timer"]["state"]) for x in lines] == [
        ("timer", "warning"),
        ("timer", "breached"),
    ]
    assert main(["timers", "run", "--once", "--database", url]) == 0
    assert capsys.readouterr().out.strip() == "fired 0 deadline(s)"
