"""The server harness itself: two servers on one database, worker control, a failed start."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.ruleset.bundle import Bundle
from tests.conftest import RULES
from tests.factories import BROKEN_RULE_FILE, rules_dir
from tests.support.events import body
from tests.support.server import Server, ServerError

pytestmark = pytest.mark.slow


def copy_of_rules(target: Path, note: str) -> Path:
    """Copy the bundled rules to ``target`` with a comment that changes their revision."""
    shutil.copytree(RULES, target)
    defaults = target / "defaults.yaml"
    defaults.write_text(defaults.read_text() + f"# {note}\n")
    return target


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with Server(tmp_path / "instance", workers=2, ESCALATION_ACCESS_LOG="/dev/null") as running:
        yield running


def test_two_servers_share_one_database_and_its_rules_whatever_their_folders(
    tmp_path: Path, postgres_schema: str
) -> None:
    rules_a = copy_of_rules(tmp_path / "rules-a", "server a")
    rules_b = copy_of_rules(tmp_path / "rules-b", "server b")

    with (
        Server(tmp_path / "a", workers=1, database_url=postgres_schema, rules_dir=rules_a) as a,
        Server(tmp_path / "b", workers=1, database_url=postgres_schema, rules_dir=rules_b) as b,
    ):
        stored = a.client.post("/v1/cases/C-1/events", json=body(text="I will sue you"))
        seen_by_b = b.client.get("/v1/cases/C-1")
        revision_a = a.client.get("/v1/rules").json()["revision"]
        revision_b = b.client.get("/v1/rules").json()["revision"]

    assert stored.status_code == 201
    assert seen_by_b.status_code == 200
    assert seen_by_b.json()["decisions"][0]["decision_id"] == stored.json()["decision_id"]
    # The first server seeded the empty database from its folder; the second
    # serves the database's revision, not its own folder's.
    assert revision_a == revision_b == Bundle.from_directory(rules_a).revision
    assert Bundle.from_directory(rules_b).revision != revision_a
    assert (tmp_path / "a" / "server.log").exists()
    assert (tmp_path / "b" / "server.log").exists()


def test_a_killed_worker_is_replaced_and_the_service_keeps_answering(server: Server) -> None:
    workers = server.wait_for_workers(2)
    assert server.rss_of_workers() > 10 * 1024 * 1024  # two Python processes with the engine

    server.kill_worker(workers[0])
    replaced = server.wait_for_workers(2, excluding=(workers[0],))

    assert workers[1] in replaced
    assert server.client.get("/readyz").status_code == 200


def test_a_server_that_cannot_start_reports_the_end_of_its_log(tmp_path: Path) -> None:
    broken = rules_dir(tmp_path, {"complaints.yaml": BROKEN_RULE_FILE})

    with pytest.raises(ServerError, match='unknown operator "gtee"'):
        Server(tmp_path / "instance", rules_dir=broken).start()
