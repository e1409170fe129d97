"""API keys for tests: an application or server that tests call with a key of every scope.

``authorize(app)`` stores the suite's key in the application's database and
makes ``app.test_client()`` send it; ``Server`` writes the same key into its
key file, which every worker imports at start.  ``client_without_key`` and
``add_key`` let a test call with no key or with fewer scopes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from service.keys import SCOPES, FileLine, append_to_file, hash_token, new_token
from service.store import keys as rows

# The suite's key: one fixed token (and so one hash) for every app and server,
# so servers sharing one database import the same key without a conflict.
TEST_KEY = "test"
TEST_TOKEN = "esk_test-suite-token-not-a-secret-0000000000000000"
ALL_SCOPES = tuple(SCOPES)
# The suite's key has every scope but text:read, so responses are masked as most
# callers see them; tests that read the words send the text reader's key.
SUITE_SCOPES = tuple(s for s in SCOPES if s != "text:read")
TEXT_READER_KEY = "test-text-reader"
TEXT_READER_TOKEN = "esk_test-suite-text-reader-not-a-secret-00000000"
EXTENSION = "test_api_token"


def bearer(token: str) -> dict[str, str]:
    """Return the Authorization header that sends ``token``."""
    return {"Authorization": f"Bearer {token}"}


class KeyedClient(FlaskClient):
    """A test client that sends the application's test key unless a request names another."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        token = self.application.extensions.get(EXTENSION)
        if token:
            self.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"


def add_key(
    app: Flask, name: str, scopes: Iterable[str], token: str | None = None
) -> str:
    """Store a key in the application's database, make its workers see it now; return the token."""
    token = token or new_token()
    services = app.extensions["escalation"]
    with services.store.write() as conn:
        rows.insert(conn, name, tuple(scopes), hash_token(token), datetime.now(UTC))
    services.keys.refresh()
    return token


def authorize(app: Flask) -> Flask:
    """Give ``app`` the suite's key with every scope and make its test clients send it."""
    add_key(app, TEST_KEY, SUITE_SCOPES, TEST_TOKEN)
    add_key(app, TEXT_READER_KEY, ALL_SCOPES, TEXT_READER_TOKEN)
    app.extensions[EXTENSION] = TEST_TOKEN
    app.test_client_class = KeyedClient
    return app


def read_text(client: FlaskClient) -> FlaskClient:
    """Make ``client`` send the text reader's key (every scope, text:read included)."""
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TEXT_READER_TOKEN}"
    return client


def client_without_key(app: Flask) -> FlaskClient:
    """Return a test client that sends no Authorization header."""
    client = app.test_client()
    client.environ_base.pop("HTTP_AUTHORIZATION", None)
    return client


def write_key_file(path: Path) -> None:
    """Write the suite's keys into a server's key file (imported by every worker at start)."""
    if path.exists() and hash_token(TEST_TOKEN) in path.read_text(encoding="utf-8"):
        return
    append_to_file(path, FileLine(TEST_KEY, SUITE_SCOPES, hash_token(TEST_TOKEN)))
    append_to_file(path, FileLine(TEXT_READER_KEY, ALL_SCOPES, hash_token(TEXT_READER_TOKEN)))
