"""The README's quick start: the serve command, then its curl example, returns the documented decision."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.support.http import call
from tests.support.keys import TEST_TOKEN, bearer
from tests.support.server import Server

README = (ROOT / "README.md").read_text(encoding="utf-8")
STABLE = (
    "outcome",
    "escalations",
    "route_to",
    "priority",
    "actions",
    "guidance",
    "case_id",
    "event_id",
    "duplicate",
)


def block_after(marker: str) -> str:
    """Return the fenced code block that follows an HTML comment marker in the README."""
    found = re.search(rf"<!-- {marker} -->\s*```\w*\n(.*?)```", README, re.S)
    assert found, f"README has no block after <!-- {marker} -->"
    return found.group(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Start the service as `make serve` does (gunicorn -c gunicorn.conf.py wsgi:app)."""
    with Server(tmp_path_factory.mktemp("instance")) as running:
        yield running


@pytest.mark.slow
def test_the_curl_example_returns_the_documented_decision(server: Server) -> None:
    command = block_after("example:request")
    url = re.search(r"curl -s (\S+)", command)
    body = re.search(r"-d '(.*)'", command, re.S)
    assert url
    assert body
    # The example sends the key `make serve` printed; the test sends the server's.
    assert '-H "Authorization: Bearer $ESCALATION_KEY"' in command
    documented: dict[str, Any] = json.loads(block_after("example:response"))

    response = call(
        "POST",
        url.group(1).replace("http://127.0.0.1:8000", server.url),
        data=body.group(1),
        headers={"Content-Type": "application/json", **bearer(TEST_TOKEN)},
    )

    assert response.status_code == 200
    decision = response.json()
    for key in STABLE:
        assert decision[key] == documented[key], key
    assert decision["matched_rules"] == documented["matched_rules"]
    assert [(s["name"], s["evidence"], s["span"]) for s in decision["signals"]] == [
        (s["name"], s["evidence"], s["span"]) for s in documented["signals"]
    ]


def test_the_field_reference_lists_every_field_operator_and_action() -> None:
    from schemas.rules import ACTION_PARAMS
    from service.engine.catalog import FIELDS
    from service.engine.model import OPERATORS

    for path in FIELDS:
        assert f"| `{path}` |" in README, f"README's field table lacks {path}"
    for op in OPERATORS:
        assert f"`{op}`" in README, op
    for action in ACTION_PARAMS:
        assert f"`{action}`" in README, action
