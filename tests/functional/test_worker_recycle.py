"""A worker that has built ESCALATION_RULES_MAX_BUILDS rule sets is replaced, under the real server.

gunicorn.conf.py's post_worker_init gives the app a callback that retires the
worker gracefully; the master then starts a fresh one, which boots from the
database and serves the revision in force.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.ruleset.bundle import Bundle
from tests.support.server import Server
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def raised_bundle() -> dict[str, str]:
    """Return the bundled rules with one threshold changed: another revision."""
    files = Bundle.from_directory(ROOT / "rules").as_text()
    files["limits.yaml"] = files["limits.yaml"].replace(
        "case.complexity: {gt: agent.limits.max_complexity}", "case.complexity: {gt: 9}"
    )
    return files


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with Server(
        tmp_path / "instance",
        workers=1,
        # Every activation rebuilds (one revision kept), and the fourth build recycles.
        ESCALATION_RULES_CACHE_SIZE="1",
        ESCALATION_RULES_MAX_BUILDS="4",
        ESCALATION_ACCESS_LOG="/dev/null",
    ) as running:
        yield running


def test_a_worker_past_its_build_limit_is_replaced_and_serves_on(server: Server) -> None:
    [first] = server.worker_pids()
    original = server.client.get("/v1/rules").json()["revision"]
    activated = server.client.post(
        "/v1/rules/activate", json={"files": raised_bundle(), "force": True}
    )
    assert activated.status_code == 200, activated.text
    raised = activated.json()["revision"]
    turns = itertools.cycle((original, raised))

    def replaced() -> bool:
        if server.worker_pids() not in ([], [first]):
            return True
        server.client.post("/v1/rules/activate", json={"revision": next(turns), "force": True})
        return False

    wait_until(replaced, timeout=180, interval=0.5, message=server.log_tail)

    [second] = server.wait_for_workers(1, excluding=(first,))
    assert second != first
    ready = server.client.get("/readyz")
    assert ready.status_code == 200
