"""Group commit for SQLite: the writes of every event waiting in a process, in one transaction.

SQLite has one writer at a time, and a commit with ``synchronous=FULL`` costs
an fsync.  Events are decided outside the writer lock (``service.ingest``);
what reaches this module is a job that, under the lock, checks what it was
decided from and writes.  The first thread to arrive commits every job
waiting at that moment: it takes the writer's turn (``WriterQueue``), opens
one BEGIN IMMEDIATE, runs each job in a savepoint (a job that fails leaves the
others alone; a job alone needs none), commits once and only then wakes the waiters.  Threads that
arrive meanwhile wait for the next group, led by one of them.

Nothing is acknowledged before its commit: a job's result is handed back only
after the COMMIT returned; if the COMMIT (or the BEGIN) fails, every job of
the group gets that error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from service.store.writes import translated


@dataclass
class _Job:
    """One event's writes, and what became of them."""

    work: Callable[[sa.Connection], Any]
    result: Any = None
    error: BaseException | None = None
    done: bool = False


class GroupCommit:
    """Run jobs in shared write transactions, one group at a time per process."""

    def __init__(self, begin: Callable[[], AbstractContextManager[sa.Connection]]) -> None:
        # ``begin`` opens the write transaction: the writer's turn, then BEGIN IMMEDIATE.
        self._begin = begin
        self._cond = threading.Condition()
        self._waiting: list[_Job] = []
        self._leading = False

    def run(self, work: Callable[[sa.Connection], Any]) -> Any:
        """Run ``work`` in a write transaction shared with other waiting jobs; return its result.

        Return only after the transaction committed; raise what ``work``
        raised (its savepoint rolled back), or the error of the commit.
        """
        job = _Job(work)
        with self._cond:
            self._waiting.append(job)
            while not job.done:
                if self._leading:
                    self._cond.wait()
                    continue
                self._leading = True
                group, self._waiting = self._waiting, []
                self._cond.release()
                try:
                    self._commit(group)
                finally:
                    self._cond.acquire()
                    self._leading = False
                    self._cond.notify_all()
        if job.error is not None:
            raise job.error
        return job.result

    def _commit(self, group: list[_Job]) -> None:
        try:
            with self._begin() as conn:
                if len(group) == 1:
                    # Alone: its failure rolls the transaction back, no savepoint needed.
                    group[0].result = group[0].work(conn)
                else:
                    for job in group:
                        _savepoint(conn, "SAVEPOINT job")
                        try:
                            job.result = job.work(conn)
                        except Exception as exc:  # the job's own failure: its savepoint undone
                            job.error = exc
                            _savepoint(conn, "ROLLBACK TO job")
                        _savepoint(conn, "RELEASE job")
        except BaseException as exc:
            # BEGIN or COMMIT failed, or a job alone did: nothing of the group is stored.
            for job in group:
                job.result = None
                if job.error is None:
                    job.error = exc
            for job in group:
                job.done = True
            if not isinstance(exc, Exception):
                raise
            return
        for job in group:
            job.done = True


def _savepoint(conn: sa.Connection, statement: str) -> None:
    """Run a savepoint statement on the driver: none of SQLAlchemy's work per job."""
    with translated(conn):
        conn.connection.driver_connection.execute(statement)  # type: ignore[union-attr]
