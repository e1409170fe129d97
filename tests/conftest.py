"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.policy import Policy, build_policy
from tests.support.keys import TEXT_READER_TOKEN, authorize, bearer

pytest_plugins = ["tests.support.databases"]

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"


@pytest.fixture(scope="session")
def policy() -> Policy:
    """Return the bundled rule set, compiled and loaded once for the session."""
    return build_policy(RULES)


def open_app(tmp_path: Path, policy: Policy, url: str) -> Iterator[Flask]:
    """Yield an application on the database at ``url`` with its own instance folder, then close it."""
    application = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DECISION_LOG": str(tmp_path / "decisions.jsonl"),
            "DATABASE_URL": url,
            "DECISION_LOG_FLUSH_SECONDS": 0,
            # Tests that need the timer claimer run it themselves: a deadline
            # firing in the background would add decisions a test does not expect.
            "TIMER_POLL_SECONDS": 0,
        },
        policy=policy,
    )
    # Test clients send a key with every scope; tests of access make their own.
    authorize(application)
    yield application
    close_app(application)


def close_app(application: Flask) -> None:
    """Stop an application's background threads and close its log and database."""
    services = application.extensions["escalation"]
    services.policies.stop()
    services.keys.stop()
    application.extensions["webhook_sender"].stop()
    application.extensions["text_purger"].stop()
    services.decision_log.close()
    services.store.engine.dispose()


@pytest.fixture
def app(tmp_path: Path, policy: Policy) -> Iterator[Flask]:
    """Return an application on a SQLite file with its own instance folder and decision log."""
    yield from open_app(tmp_path, policy, f"sqlite:///{tmp_path / 'instance' / 'escalation.db'}")


@pytest.fixture(params=("sqlite", "postgres"))
def backend_app(request: pytest.FixtureRequest, tmp_path: Path, policy: Policy) -> Iterator[Flask]:
    """Return an application on a fresh SQLite file or PostgreSQL schema."""
    # Imported here: the module is also this suite's plugin, loaded (and
    # assert-rewritten) by pytest after this file.
    from tests.support.databases import database_url

    yield from open_app(tmp_path, policy, database_url(request.param, tmp_path, request))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Return a test client of ``app``."""
    return app.test_client()


@pytest.fixture
def api_headers() -> dict[str, str]:
    """Return the headers that authenticate a request with a key of every scope."""
    return bearer(TEXT_READER_TOKEN)
