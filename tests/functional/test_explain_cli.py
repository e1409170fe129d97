"""The installed ``escalation explain`` command explains a miss and reports bad input without a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

ESCALATION = Path(sys.executable).parent / "escalation"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ESCALATION), "explain", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )


def test_the_console_script_explains_a_rule_missed_by_one(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps({"type": "agent_note", "channel": "chat", "attributes": {"hostility": 3}}),
        "utf-8",
    )

    done = run(str(event))

    assert done.returncode == 0, done.stderr
    assert (
        "  hostility-over-agent-limit: case.hostility 3 > agent.limits.max_hostility 3: false\n"
        "      observed case.hostility = 3\n"
    ) in done.stdout
    assert "outcome:     " in done.stdout


def test_the_console_script_names_the_bad_field_and_exits_2(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"type": "customer_message", "channel": "fax"}), "utf-8")

    done = run(str(event))

    assert done.returncode == 2
    assert f"{event}: invalid fields:" in done.stderr
    assert "channel: unknown channel" in done.stderr
    assert "Traceback" not in done.stderr
