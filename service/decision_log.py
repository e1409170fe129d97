"""The decision log: one JSON line per decision, after Open Policy Agent's.

Each line has the decision id, timestamp, case, event and customer ids, the
caller, the rules revision, the input (message text masked unless configured
otherwise), the signals, the matched rules with why they matched, the decision
and how long it took.  Lines are appended with a single write each, so
several worker processes can share one file.

Stored decisions reach the log through an outbox: each event row carries a
``logged`` flag, set (in batches) after its line is written.  Rows a crash
left unflagged are written again on recovery, so the log holds every stored
decision at least once; ``decision_id`` tells repeats apart.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import threading
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from service import metrics
from service.store import repository as repo
from service.store.repository import Store

log = logging.getLogger(__name__)


def masked_text(text: object, mask: bool) -> Any:
    """Return the text, or a stand-in that shows its length and hash but not its words."""
    if not isinstance(text, str) or not mask:
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return {"masked": True, "length": len(text), "sha256_prefix": digest}


def record(
    decision: Mapping[str, Any],
    event: Mapping[str, Any],
    *,
    caller: str | None,
    customer_id: str | None,
    dry_run: bool,
    mask: bool,
) -> dict[str, Any]:
    """Build one decision-log record from a decision and its event as sent (wire forms)."""
    return {
        "decision_id": decision["decision_id"],
        "timestamp": decision["evaluated_at"],
        "case_id": decision.get("case_id"),
        "event_id": decision["event_id"],
        "customer_id": customer_id,
        "caller": caller,
        "dry_run": dry_run,
        "rules_revision": decision["rules_revision"],
        "input": {**event, "text": masked_text(event.get("text"), mask)},
        "signals": [
            {k: s[k] for k in ("name", "language", "evidence", "entry")}
            for s in decision["signals"]
        ],
        "matched_rules": [{"id": m["id"], "why": m["why"]} for m in decision["matched_rules"]],
        "result": {k: v for k, v in decision.items() if k not in ("signals", "matched_rules")},
        "metrics": {"timer_eval_ms": decision["duration_ms"]},
    }


class DecisionLog:
    """Append decision records to a file, or to standard output for "-".

    The file is reopened after it is rotated (renamed or removed, as
    logrotate does): every write compares the inode at the path with the
    open file's, and ``reopen`` (the SIGUSR1 handler) asks for it outright.
    """

    # Every log of the process, for the signal handler (weakly: apps come and go in tests).
    _instances: ClassVar[weakref.WeakSet[DecisionLog]] = weakref.WeakSet()

    def __init__(self, target: str, mask_text: bool = True) -> None:
        self.mask_text = mask_text
        self.path = None if target == "-" else os.path.abspath(target)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._reopen = False
        if self.path is not None:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self._fd = self._open(self.path)
        DecisionLog._instances.add(self)

    @staticmethod
    def _open(path: str) -> int:
        return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)

    def _rotated(self, fd: int, path: str) -> bool:
        """Return whether the path no longer names the open file (a stat: about a microsecond)."""
        try:
            at_path = os.stat(path)
        except FileNotFoundError:
            return True
        opened = os.fstat(fd)
        return (at_path.st_ino, at_path.st_dev) != (opened.st_ino, opened.st_dev)

    def write(self, entry: Mapping[str, Any]) -> None:
        """Append one record as one line, to the file now at the path."""
        line = (json.dumps(entry, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        try:
            with self._lock:
                if self.path is None:
                    sys.stdout.buffer.write(line)
                    sys.stdout.flush()
                    return
                if self._fd is None or self._reopen or self._rotated(self._fd, self.path):
                    self._reopen = False
                    self._swap(self._open(self.path))
                assert self._fd is not None
                os.write(self._fd, line)
        except OSError:
            metrics.DECISION_LOG_FAILURES.inc()
            raise

    def _swap(self, fd: int) -> None:
        old, self._fd = self._fd, fd
        if old is not None:
            os.close(old)
        log.info("decision log reopened", extra={"path": self.path})

    def reopen(self, *_: object) -> None:
        """Reopen the file before the next write; safe to call from a signal handler."""
        # Only a flag: a handler may interrupt a write that holds the lock.
        self._reopen = True

    @classmethod
    def reopen_all(cls) -> None:
        """Reopen every decision log of the process before its next write."""
        for each in list(cls._instances):
            each.reopen()

    def close(self) -> None:
        """Close the log file."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


class Outbox:
    """Write stored decisions to the decision log and flag them, surviving crashes."""

    def __init__(
        self, store: Store, decision_log: DecisionLog, settle: timedelta = timedelta(seconds=10)
    ) -> None:
        self.store = store
        self.log = decision_log
        self.settle = settle
        self._pending: list[int] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def written(self, seq: int) -> None:
        """Note that the line of stored event ``seq`` is in the log; flag it on the next flush.

        Without a background thread (tests, the command line) it is flagged at once.
        """
        with self._lock:
            self._pending.append(seq)
        if self._thread is None:
            self.flush()

    def flush(self) -> int:
        """Flag every noted event as logged, in one transaction; return how many."""
        with self._lock:
            seqs, self._pending = self._pending, []
        if seqs:
            try:
                with self.store.write() as conn:
                    repo.mark_logged(conn, seqs)
            except Exception:
                with self._lock:
                    self._pending[:0] = seqs
                raise
        return len(seqs)

    def recover(self, now: datetime | None = None, batch: int = 500) -> int:
        """Write the lines of stored decisions that never reached the log; return how many.

        Only rows older than ``settle`` are taken, so decisions still on their
        way through a request are left to it.  The write transaction keeps
        two workers from recovering the same rows.
        """
        cutoff = (now or datetime.now(UTC)) - self.settle
        total = 0
        while True:
            with self.store.write() as conn:
                rows = repo.unlogged(conn, cutoff, batch)
                for row in rows:
                    self.log.write(
                        record(
                            row.decision,
                            row.event,
                            caller=row.caller,
                            customer_id=row.customer_id,
                            dry_run=False,
                            mask=self.log.mask_text,
                        )
                    )
                repo.mark_logged(conn, [row.seq for row in rows])
            total += len(rows)
            if len(rows) < batch:
                return total

    def start(self, interval: float, recover_every: float = 30.0) -> None:
        """Flush and recover in a background thread until stopped."""

        def loop() -> None:
            since_recovery = recover_every  # recover on the first pass: after a restart
            while not self._stop.wait(interval):
                try:
                    self.flush()
                    since_recovery += interval
                    if since_recovery >= recover_every:
                        since_recovery = 0
                        recovered = self.recover()
                        if recovered:
                            log.warning("wrote %d decision-log lines missed earlier", recovered)
                except Exception:
                    log.exception("decision log outbox")

        self._thread = threading.Thread(target=loop, name="decision-log-outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread and flush what is pending."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()
