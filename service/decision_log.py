"""The decision log: one JSON line per decision, after Open Policy Agent's.

Each line has the decision id, timestamp, case, event and customer ids, the
caller, the rules revision, the input, the signals, the matched rules with why
they matched, the decision and how long it took.  Message text, the words a
signal matched and attribute values that are not numbers or enumerations the
rules read are shown by the text policy (drop, hash or keep; docs/masking.md).
Lines are appended with a single write each, so several worker processes can
share one file.

Stored decisions reach the log through an outbox: each event row carries a
``logged`` flag, set (in batches) after its line is written.  Rows a crash
left unflagged are written again on recovery, so the log holds every stored
decision at least once; ``decision_id`` tells repeats apart.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import weakref
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from service import jsonwire, metrics
from service.engine.catalog import SERVER_EVENT_TYPES
from service.masking import (
    NOTHING_READABLE,
    Readable,
    TextPolicy,
    mask_item,
    mask_signals,
    scrub_why,
)
from service.store import repository as repo
from service.store.repository import Store

log = logging.getLogger(__name__)


def masked_input(
    event: Mapping[str, Any],
    policy: TextPolicy,
    *,
    key: bytes | None = None,
    readable: Readable = NOTHING_READABLE,
    trusted: bool = False,
) -> dict[str, Any]:
    """Return an event as sent with its text and its attribute values masked by ``policy``.

    ``trusted`` attributes (a timer's, made by the service) are shown as they are.
    """
    shown = mask_item(event, "text", policy, key)
    attributes = shown.get("attributes")
    if isinstance(attributes, Mapping) and not trusted:
        shown["attributes"] = readable.attributes(attributes, policy, key)
    return shown


def record(
    decision: Mapping[str, Any],
    event: Mapping[str, Any],
    *,
    caller: str | None,
    customer_id: str | None,
    dry_run: bool,
    policy: TextPolicy = TextPolicy.HASH,
    key: bytes | None = None,
    readable: Readable = NOTHING_READABLE,
    mask: bool | None = None,
) -> dict[str, Any]:
    """Build one decision-log record from a decision and its event as sent (wire forms).

    Whatever form the decision comes in (a text:read caller's answer included),
    the record shows text only as ``policy`` allows; ``mask``, the older
    switch, means hash (true) or keep (false) when given.
    """
    if mask is not None:
        policy = TextPolicy.HASH if mask else TextPolicy.KEEP
    # Only the service makes deadline_reached events for a stored case; a dry run's are a
    # caller's, whatever their type.
    trusted = not dry_run and event.get("type") in SERVER_EVENT_TYPES
    keep = policy is TextPolicy.KEEP
    signals = [
        {k: s[k] for k in ("name", "language", "entry", "source", "evidence") if k in s}
        for s in decision["signals"]
    ]
    return {
        "decision_id": decision["decision_id"],
        "timestamp": decision["evaluated_at"],
        "case_id": decision.get("case_id"),
        "event_id": decision["event_id"],
        "customer_id": customer_id,
        "caller": caller,
        "dry_run": dry_run,
        "rules_revision": decision["rules_revision"],
        "input": masked_input(event, policy, key=key, readable=readable, trusted=trusted),
        "signals": mask_signals(signals, policy, key),
        "matched_rules": [
            {"id": m["id"], "why": m["why"] if keep else scrub_why(m["why"], decision["signals"])}
            for m in decision["matched_rules"]
        ],
        "result": {k: v for k, v in decision.items() if k not in ("signals", "matched_rules")},
        "metrics": {"timer_eval_ms": decision["duration_ms"]},
    }


class DecisionLog:
    """Append decision records to a file, or to standard output for "-".

    ``policy`` and ``key`` say how text is masked; ``readable`` returns what
    the active rules read as plain data, for lines written outside a request.
    The file is reopened after it is rotated (renamed or removed, as
    logrotate does): every write compares the inode at the path with the
    open file's, and ``reopen`` (the SIGUSR1 handler) asks for it outright.
    """

    # Every log of the process, for the signal handler (weakly: apps come and go in tests).
    _instances: ClassVar[weakref.WeakSet[DecisionLog]] = weakref.WeakSet()

    def __init__(
        self,
        target: str,
        policy: TextPolicy = TextPolicy.HASH,
        key: bytes | None = None,
        readable: Callable[[], Readable] = lambda: NOTHING_READABLE,
        *,
        mask_text: bool | None = None,
    ) -> None:
        if mask_text is not None:  # the older switch: hash or keep
            policy = TextPolicy.HASH if mask_text else TextPolicy.KEEP
        self.policy, self.key, self.readable = policy, key, readable
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

    @property
    def mask_text(self) -> bool:
        """Tell whether text is masked at all (the older switch, for older callers)."""
        return self.policy is not TextPolicy.KEEP

    def decision(
        self,
        decision: Mapping[str, Any],
        event: Mapping[str, Any],
        *,
        caller: str | None,
        customer_id: str | None,
        dry_run: bool,
        readable: Readable | None = None,
    ) -> None:
        """Write the record of one decision (wire or stored form), masked by this log's policy."""
        self.write(
            record(
                decision,
                event,
                caller=caller,
                customer_id=customer_id,
                dry_run=dry_run,
                policy=self.policy,
                key=self.key,
                readable=self.readable() if readable is None else readable,
            )
        )

    def write(self, entry: Mapping[str, Any]) -> None:
        """Append one record as one line, to the file now at the path."""
        try:
            line = jsonwire.dumps(entry, str) + b"\n"
        except jsonwire.Unsure:  # what orjson cannot write, the standard library writes as before
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
                    self.log.decision(
                        row.decision,
                        row.event,
                        caller=row.caller,
                        customer_id=row.customer_id,
                        dry_run=False,
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
