"""Two gunicorn servers on one PostgreSQL, each with its own rules folder, serve one revision.

What an operator runs behind a load balancer: an activation through either
server reaches every worker of both; a typo saved in one server's folder and
a worker killed there change nothing; a rollback works the same way.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from service.ruleset.bundle import Bundle
from tests.factories import RULES
from tests.functional.test_activation import TYPO, raised_threshold_bundle
from tests.support.server import Server
from tests.support.wait import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def revisions_by_worker(server: Server, probes: int = 40) -> dict[int, str]:
    """Ask /readyz on fresh connections, so that every worker answers some; return what each serves."""
    seen: dict[int, str] = {}
    for _ in range(probes):
        try:
            ready = requests.get(f"{server.url}/readyz", timeout=30).json()
        except requests.RequestException:
            continue  # a busy machine: ask again
        seen[ready["worker"]] = ready["rules_revision"]
    return seen


def every_worker_serves(server: Server, revision: str) -> bool:
    workers = set(server.worker_pids())
    seen = revisions_by_worker(server)
    return workers <= set(seen) and all(seen[pid] == revision for pid in workers)


def converge(servers: tuple[Server, ...], revision: str) -> float:
    """Wait until every worker of every server serves ``revision``; return how long it took."""
    started = time.monotonic()
    wait_until(
        lambda: all(every_worker_serves(s, revision) for s in servers),
        timeout=120,
        interval=0.2,
        message=lambda: f"workers serve {[revisions_by_worker(s) for s in servers]}, not {revision}",
    )
    return time.monotonic() - started


@pytest.fixture
def servers(tmp_path: Path, postgres_schema: str) -> Iterator[tuple[Server, Server]]:
    folders = [shutil.copytree(RULES, tmp_path / name / "rules") for name in ("a", "b")]
    with (
        Server(tmp_path / "a" / "instance", database_url=postgres_schema, rules_dir=folders[0]) as a,
        Server(tmp_path / "b" / "instance", database_url=postgres_schema, rules_dir=folders[1]) as b,
    ):
        yield a, b


def test_activation_typo_worker_crash_and_rollback_across_two_servers(
    tmp_path: Path, servers: tuple[Server, Server]
) -> None:
    a, b = servers
    original = Bundle.from_directory(RULES).revision
    converge(servers, original)

    # An activation through the first server reaches every worker of both.
    activated = a.client.post("/v1/rules/activate", json={"files": raised_threshold_bundle()})
    assert activated.status_code == 200, activated.text
    raised = activated.json()["revision"]
    took = converge(servers, raised)
    print(f"every worker of both servers served {raised[:19]} {took:.1f} s after activation")

    # A typo saved in the second server's folder, then one of its workers killed:
    # the new worker boots from the database and serves the active revision.
    (tmp_path / "b" / "rules" / "typo.yaml").write_text(TYPO)
    victim = b.worker_pids()[0]
    b.kill_worker(victim)
    b.wait_for_workers(2, excluding=(victim,))
    converge(servers, raised)
    assert b.client.get("/healthz").status_code == 200

    # Rollback by revision id through the second server, the same way.
    rolled = b.client.post("/v1/rules/activate", json={"revision": original})
    assert rolled.status_code == 200, rolled.text
    converge(servers, original)
    history = a.client.get("/v1/rules/revisions").json()["activations"]
    assert [h["action"] for h in history] == ["rollback", "activate", "seed"], history
