"""The README's quick start: the serve command, then its curl example, returns the documented decision."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import ROOT

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start the service as `make serve` does (gunicorn -c gunicorn.conf.py wsgi:app)."""
    port = free_port()
    instance = tmp_path_factory.mktemp("instance")
    env = {
        **os.environ,
        "ESCALATION_BIND": f"127.0.0.1:{port}",
        "ESCALATION_INSTANCE_PATH": str(instance),
    }
    gunicorn = Path(sys.executable).parent / "gunicorn"
    proc = subprocess.Popen(
        [str(gunicorn), "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/readyz", timeout=1).ok:
                    break
            except requests.RequestException:
                # gunicorn accepts connections before a worker can answer: a read times out.
                time.sleep(0.2)
        else:
            raise AssertionError("the server did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_the_curl_example_returns_the_documented_decision(server: str) -> None:
    command = block_after("example:request")
    url = re.search(r"curl -s (\S+)", command)
    body = re.search(r"-d '(.*)'", command, re.S)
    assert url
    assert body
    documented: dict[str, Any] = json.loads(block_after("example:response"))

    response = requests.post(
        url.group(1).replace("http://127.0.0.1:8000", server),
        data=body.group(1),
        headers={"Content-Type": "application/json"},
        timeout=10,
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
