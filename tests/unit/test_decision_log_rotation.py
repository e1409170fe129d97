"""The decision-log file follows rotation: a rename, a removal, or SIGUSR1."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from flask import Flask
from prometheus_client import REGISTRY

from service.decision_log import DecisionLog


def read(path: Path) -> list[int]:
    return [json.loads(line)["n"] for line in path.read_text().splitlines()]


def test_after_a_rename_the_next_line_goes_to_a_new_file(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(str(path))
    log.write({"n": 1})
    os.rename(path, tmp_path / "decisions.jsonl.1")

    log.write({"n": 2})
    log.write({"n": 3})
    log.close()

    assert read(tmp_path / "decisions.jsonl.1") == [1]
    assert read(path) == [2, 3]


def test_after_a_removal_the_file_is_made_again(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(str(path))
    log.write({"n": 1})
    path.unlink()

    log.write({"n": 2})
    log.close()

    assert read(path) == [2]


def test_without_rotation_lines_are_appended_to_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    path.write_text(json.dumps({"n": 0}) + "\n")
    log = DecisionLog(str(path))
    inode = path.stat().st_ino

    for n in range(1, 4):
        log.write({"n": n})
    log.close()

    assert read(path) == [0, 1, 2, 3]
    assert path.stat().st_ino == inode


def test_sigusr1_reopens_the_file_of_the_app(
    app: Flask, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The factory installed the handler; without it SIGUSR1 would end the test run.
    assert getattr(signal.getsignal(signal.SIGUSR1), "reopens_decision_logs", False)
    log: DecisionLog = app.extensions["escalation"].decision_log
    log.write({"n": 1})

    with caplog.at_level("INFO", logger="service.decision_log"):
        log.write({"n": 2})
        assert "decision log reopened" not in caplog.messages
        os.kill(os.getpid(), signal.SIGUSR1)
        log.write({"n": 3})

    assert caplog.messages.count("decision log reopened") == 1
    assert read(tmp_path / "decisions.jsonl") == [1, 2, 3]


def test_a_failed_write_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(str(path))
    path.unlink()
    path.mkdir()  # rotated away, and nothing can be opened for writing in its place
    before = REGISTRY.get_sample_value("escalation_decision_log_write_failures_total") or 0.0

    with pytest.raises(IsADirectoryError):
        log.write({"n": 1})
    log.close()

    assert REGISTRY.get_sample_value("escalation_decision_log_write_failures_total") == before + 1
