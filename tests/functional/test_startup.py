"""The service refuses to start on an invalid rule set and prints every problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from service import create_app
from service.ruleset.issues import InvalidFiles
from tests.factories import BROKEN_RULE_FILE, rules_dir
from tests.support.server import Server

EXPECTED = [
    'rules/complaints.yaml:2:5: rule repeated-complaints: "then" is missing',
    "rules/complaints.yaml:8:43: rule repeated-complaints, "
    'when.all[1].customer.unresolved_complaints: unknown operator "gtee" (did you mean "gte"?)',
]


def test_create_app_refuses_an_invalid_rule_set(tmp_path: Path) -> None:
    root = rules_dir(tmp_path, {"complaints.yaml": BROKEN_RULE_FILE})

    with pytest.raises(InvalidFiles) as info:
        create_app({"RULES_DIR": str(root), "INSTANCE_PATH": str(tmp_path / "instance")})

    assert [str(i) for i in info.value.issues] == EXPECTED


@pytest.mark.slow
def test_gunicorn_does_not_start_and_prints_every_problem(tmp_path: Path) -> None:
    root = rules_dir(tmp_path, {"complaints.yaml": BROKEN_RULE_FILE})

    exited = Server(tmp_path / "instance", rules_dir=root).run_to_exit()

    assert exited.returncode != 0
    for line in EXPECTED:
        assert line in exited.output
