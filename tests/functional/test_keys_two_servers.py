"""Two gunicorn servers on one PostgreSQL: a key added or revoked with the CLI holds on both, without restart."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.keys import bearer
from tests.support.server import ROOT, Server
from tests.support.wait import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
# Fresh connections per probe, so several workers of each server answer.
PROBES = 8


def cli(tmp_path: Path, url: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run ``escalation keys ...`` as an operator would, on the servers' database."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ESCALATION_")},
        "DATABASE_URL": url,
        "ESCALATION_INSTANCE_PATH": str(tmp_path / "operator"),
    }
    return subprocess.run(
        [sys.executable, "-m", "service", "keys", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )


def answers(server: Server, token: str) -> set[int]:
    """Return the statuses of several GET /v1/decisions with ``token``."""
    return {
        server.client.get("/v1/decisions?limit=1", headers=bearer(token)).status_code
        for _ in range(PROBES)
    }


@pytest.fixture
def servers(tmp_path: Path, postgres_schema: str) -> Iterator[tuple[Server, Server]]:
    with (
        Server(tmp_path / "a", database_url=postgres_schema) as a,
        Server(tmp_path / "b", database_url=postgres_schema) as b,
    ):
        yield a, b


def test_a_key_added_and_revoked_with_the_cli_holds_on_both_servers(
    tmp_path: Path, postgres_schema: str, servers: tuple[Server, Server]
) -> None:
    added = cli(tmp_path, postgres_schema, "add", "reporting", "--scopes", "decisions:read")
    token = added.stdout.strip()
    start = time.monotonic()
    for server in servers:
        wait_until(
            lambda s=server: answers(s, token) == {200},
            timeout=60,
            interval=0.1,
            message=lambda s=server: f"{s.url} answers {answers(s, token)}",
        )
    print(f"the new key worked on both servers {time.monotonic() - start:.2f} s after the CLI")
    # The key reads; it does not write.
    event = {"event_id": "k-1", "type": "case_closed", "occurred_at": "2026-11-22T10:00:00Z"}
    written = servers[0].client.post("/v1/cases/K-1/events", json=event, headers=bearer(token))
    assert written.status_code == 403

    cli(tmp_path, postgres_schema, "revoke", "reporting")
    start = time.monotonic()
    for server in servers:
        wait_until(
            lambda s=server: answers(s, token) == {401},
            timeout=60,
            interval=0.1,
            message=lambda s=server: f"{s.url} answers {answers(s, token)}",
        )
    print(f"the revoked key was refused on both servers {time.monotonic() - start:.2f} s after")
    # The suite's own key, imported by both from their key files, still works.
    assert all(s.client.get("/v1/rules").status_code == 200 for s in servers)
