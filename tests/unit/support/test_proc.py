"""The /proc readers of the server harness, on a made-up /proc and on this very process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.proc import children, parse_stat, parse_vm_rss, rss


def fake_process(proc: Path, pid: int, ppid: int, state: str = "S", rss_kb: int | None = 0) -> None:
    folder = proc / str(pid)
    folder.mkdir()
    # A command name with spaces and a ")" is legal and must not shift the fields.
    (folder / "stat").write_text(f"{pid} (gunicorn: worker ) x) {state} {ppid} {pid} 0 0\n")
    status = f"Name:\tgunicorn\nPid:\t{pid}\nPPid:\t{ppid}\n"
    if rss_kb is not None:
        status += f"VmRSS:\t  {rss_kb} kB\n"
    (folder / "status").write_text(status + "Threads:\t5\n")


def test_parse_stat_counts_fields_from_the_last_parenthesis() -> None:
    assert parse_stat("42 (a) b (c)) R 7 42 42 0 -1") == ("R", 7)


def test_parse_vm_rss_returns_bytes_and_zero_without_the_line() -> None:
    assert parse_vm_rss("Name:\tx\nVmRSS:\t  2048 kB\n") == 2048 * 1024
    assert parse_vm_rss("Name:\tx\nState:\tZ (zombie)\n") == 0


def test_children_are_the_living_processes_with_that_parent(tmp_path: Path) -> None:
    fake_process(tmp_path, 100, 1)
    fake_process(tmp_path, 103, 100)
    fake_process(tmp_path, 101, 100)
    fake_process(tmp_path, 102, 100, state="Z", rss_kb=None)  # killed, not yet reaped
    fake_process(tmp_path, 104, 1)
    (tmp_path / "self").mkdir()
    (tmp_path / "meminfo").write_text("")

    assert children(100, proc=tmp_path) == [101, 103]
    assert children(999, proc=tmp_path) == []


def test_rss_reads_vm_rss_and_is_zero_for_a_process_that_is_gone(tmp_path: Path) -> None:
    fake_process(tmp_path, 101, 100, rss_kb=1500)

    assert rss(101, proc=tmp_path) == 1500 * 1024
    assert rss(555, proc=tmp_path) == 0


@pytest.mark.slow
def test_the_real_proc_shows_a_child_of_this_process() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; print('ready', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.pid in children(os.getpid())
        # Measure once the interpreter is up: right after fork it is still a small stub.
        assert child.stdout is not None
        assert child.stdout.readline() == b"ready\n"
        assert rss(child.pid) > 1024 * 1024  # a Python interpreter takes megabytes
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=60)
    assert child.pid not in children(os.getpid())
