"""Group commit: jobs waiting together share one transaction, and only a commit answers them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from service.store.db import create_engine
from service.store.group import GroupCommit
from tests.support.wait import wait_until


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'group.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER PRIMARY KEY)")
    yield engine
    engine.dispose()


def stored(engine: sa.Engine) -> list[int]:
    with engine.connect() as conn:
        return [n for (n,) in conn.exec_driver_sql("SELECT n FROM t ORDER BY n")]


def insert(n: int) -> object:
    def work(conn: sa.Connection) -> int:
        conn.exec_driver_sql(f"INSERT INTO t (n) VALUES ({n})")
        return n

    return work


def test_jobs_waiting_while_a_group_commits_are_committed_together_in_the_next(
    engine: sa.Engine,
) -> None:
    transactions: list[int] = []

    @contextmanager
    def begin() -> Iterator[sa.Connection]:
        transactions.append(1)
        with engine.begin() as conn:
            yield conn

    group = GroupCommit(begin)
    go = threading.Event()

    def first(conn: sa.Connection) -> int:
        go.wait(timeout=60)
        conn.exec_driver_sql("INSERT INTO t (n) VALUES (0)")
        return 0

    results: dict[int, object] = {}
    threads = [threading.Thread(target=lambda: results.__setitem__(0, group.run(first)))]
    threads[0].start()
    wait_until(lambda: len(transactions) == 1, timeout=30, interval=0.01)
    for n in range(1, 6):
        thread = threading.Thread(
            target=lambda n=n: results.__setitem__(n, group.run(insert(n)))  # type: ignore[misc]
        )
        threads.append(thread)
        thread.start()
    wait_until(lambda: len(group._waiting) == 5, timeout=30, interval=0.01)
    go.set()
    for thread in threads:
        thread.join(timeout=60)

    assert results == {n: n for n in range(6)}
    assert stored(engine) == list(range(6))
    assert len(transactions) == 2  # the first job's, then the five that waited for it


def test_a_failing_job_leaves_the_others_of_its_group_stored(engine: sa.Engine) -> None:
    group = GroupCommit(engine.begin)

    def failing(conn: sa.Connection) -> None:
        conn.exec_driver_sql("INSERT INTO t (n) VALUES (7)")
        raise ValueError("refused")

    assert group.run(insert(1)) == 1
    with pytest.raises(ValueError, match="refused"):
        group.run(failing)
    assert group.run(insert(2)) == 2
    assert stored(engine) == [1, 2]


def test_when_the_commit_fails_every_job_of_the_group_gets_the_error(engine: sa.Engine) -> None:
    @contextmanager
    def begin() -> Iterator[sa.Connection]:
        with engine.connect() as conn, conn.begin():
            yield conn
            raise sa.exc.OperationalError("COMMIT", {}, Exception("disk I/O error"))

    group = GroupCommit(begin)
    errors: list[BaseException] = []

    def post(n: int) -> None:
        try:
            group.run(insert(n))
        except sa.exc.OperationalError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(errors) == 4
    assert stored(engine) == []
