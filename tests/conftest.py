"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.policy import Policy, build_policy

pytest_plugins = ["tests.support.databases"]

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"


@pytest.fixture(scope="session")
def policy() -> Policy:
    """Return the bundled rule set, compiled and loaded once for the session."""
    return build_policy(RULES)


@pytest.fixture
def app(tmp_path: Path, policy: Policy) -> Iterator[Flask]:
    """Return an application with its own instance folder and decision log."""
    application = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DECISION_LOG": str(tmp_path / "decisions.jsonl"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'instance' / 'escalation.db'}",
            "DECISION_LOG_FLUSH_SECONDS": 0,
            # Tests that need the timer claimer run it themselves.
            "TIMER_POLL_SECONDS": 0,
        },
        policy=policy,
    )
    yield application
    services = application.extensions["escalation"]
    services.policies.stop()
    application.extensions["webhook_sender"].stop()
    services.decision_log.close()
    services.store.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Return a test client of ``app``."""
    return app.test_client()
