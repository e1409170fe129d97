"""Read processes from /proc (Linux): children of a process and their resident memory."""

from __future__ import annotations

from pathlib import Path

PROC = Path("/proc")


def parse_stat(text: str) -> tuple[str, int]:
    """Return the state letter and the parent pid from the text of /proc/PID/stat."""
    # The command name (field 2) is in parentheses and may itself hold spaces and
    # parentheses, so the fields are counted from the last ")".
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])


def parse_vm_rss(text: str) -> int:
    """Return the resident set size in bytes from the text of /proc/PID/status (0 if absent)."""
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            value, unit = line.split()[1:3]
            assert unit == "kB", line
            return int(value) * 1024
    return 0  # kernel threads and zombies have no VmRSS line


def children(pid: int, proc: Path = PROC) -> list[int]:
    """Return the living (not zombie) child processes of ``pid``, in pid order."""
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, parent = parse_stat((entry / "stat").read_text())
        except (FileNotFoundError, ProcessLookupError):
            continue  # it exited while we looked
        if parent == pid and state != "Z":
            found.append(int(entry.name))
    return sorted(found)


def rss(pid: int, proc: Path = PROC) -> int:
    """Return the resident memory of ``pid`` in bytes, 0 when it has exited."""
    try:
        return parse_vm_rss((proc / str(pid) / "status").read_text())
    except (FileNotFoundError, ProcessLookupError):
        return 0
