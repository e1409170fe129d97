"""Run the real service under gunicorn for tests that cross process boundaries.

The one launcher of the suite: every test that starts gunicorn uses ``Server``.
It runs ``gunicorn -c gunicorn.conf.py wsgi:app`` as ``make serve`` does, on a
free port, with its own instance folder and a log file in it, and waits for
/readyz for minutes rather than seconds, because the machine may be busy.

    with Server(tmp_path / "a", workers=2, database_url=url, rules_dir=rules) as server:
        server.client.post("/v1/evaluate", json=...)
        server.kill_worker(server.worker_pids()[0])
        server.wait_for_workers(2)

``Server(...).run_to_exit()`` starts it expecting it to refuse to start.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

import requests

from tests.support import proc
from tests.support.http import Client
from tests.support.keys import TEST_TOKEN, bearer, write_key_file
from tests.support.wait import WaitTimeout, wait_until

ROOT = Path(__file__).resolve().parents[2]
# Start-up builds the rule engine in every worker and may migrate the database:
# on a busy two-core machine that has taken well over a minute.
READY_TIMEOUT = 180.0
STOP_TIMEOUT = 60.0
# Settings a developer's shell may hold: a test's server gets only what the test says.
INHERITED_SETTINGS = ("DATABASE_URL",)


def free_port() -> int:
    """Return a TCP port free on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Exited:
    """How a server that was expected to refuse to start ended."""

    returncode: int
    output: str  # its stdout and stderr, interleaved as written


class ServerError(AssertionError):
    """The server did not start, or did not stop, as the test needed."""


class Server:
    """gunicorn -c gunicorn.conf.py wsgi:app, as `make serve` runs it, on a free port."""

    def __init__(
        self,
        instance: Path,
        workers: int = 2,
        *,
        database_url: str | None = None,
        rules_dir: Path | str | None = None,
        **env: str,
    ) -> None:
        """Prepare (not start) a server; ``env`` adds environment variables, e.g. ESCALATION_*."""
        instance.mkdir(parents=True, exist_ok=True)
        self.instance = instance
        self.log_path = instance / "server.log"
        self.port = free_port()
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("ESCALATION_") and k not in INHERITED_SETTINGS
        }
        self.env: dict[str, str] = {
            **base,
            "ESCALATION_WORKERS": str(workers),
            "ESCALATION_INSTANCE_PATH": str(instance),
            # Timers fire events of their own on cases whose events are old, which
            # would change what other tests count; timer tests turn the claimer on.
            "ESCALATION_TIMER_POLL_SECONDS": "0",
            **env,
        }
        if database_url is not None:
            self.env["DATABASE_URL"] = database_url
        if rules_dir is not None:
            self.env["ESCALATION_RULES_DIR"] = str(rules_dir)
        # The suite's key, in the key file every worker imports at start.
        write_key_file(Path(self.env.get("ESCALATION_API_KEYS") or instance / "api-keys"))
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_start = 0
        self._client: Client | None = None

    @property
    def url(self) -> str:
        """Return the base URL, e.g. http://127.0.0.1:40123."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def client(self) -> Client:
        """Return the retrying HTTP client of this server (one per URL, so retries add up).

        It sends the suite's API key (tests.support.keys), which has every scope.
        """
        if self._client is None or self._client.base_url != self.url:
            self._client = Client(self.url, headers=bearer(TEST_TOKEN))
        return self._client

    # -- starting and stopping ------------------------------------------------

    def start(self, timeout: float = READY_TIMEOUT) -> Server:
        """Start the server and wait until /readyz answers 200; raise with the log tail if not."""
        for _ in range(3):
            self._spawn()
            try:
                self._wait_ready(timeout)
                return self
            except ServerError:
                if "Address already in use" not in self.log_tail():
                    raise
            # Someone took the port between free_port() and gunicorn's bind: try another.
            self._reap()
            self.port = free_port()
        raise ServerError(f"no free port could be bound\n{self.log_tail()}")

    def run_to_exit(self, timeout: float = READY_TIMEOUT) -> Exited:
        """Start the server expecting it to refuse to start; return its exit code and output."""
        self._spawn()
        assert self.proc is not None
        running = self.proc
        try:
            wait_until(
                lambda: running.poll() is not None or self._ready(),
                timeout=timeout,
                interval=0.2,
                message=lambda: f"the server neither exited nor started\n{self.log_tail()}",
            )
        except WaitTimeout:
            self.stop()
            raise
        if running.poll() is None:
            self.stop()
            raise ServerError(f"the server started instead of exiting\n{self.log_tail()}")
        returncode = running.returncode
        self._reap()
        return Exited(returncode, self._log_text())

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the server gracefully (SIGTERM), killing it when it takes too long."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
                return
        self._reap()

    def kill9(self) -> None:
        """Kill the master and every worker at once, as a crash would."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):  # it died on its own already
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=STOP_TIMEOUT)
        self._reap()

    def __enter__(self) -> Server:
        """Start the server unless it runs already."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()

    # -- workers ---------------------------------------------------------------

    def worker_pids(self) -> list[int]:
        """Return the pids of the living workers (children of the gunicorn master)."""
        assert self.proc is not None, "the server was not started"
        return proc.children(self.proc.pid)

    def kill_worker(self, pid: int) -> None:
        """Kill one worker with SIGKILL; the master starts a new one in its place."""
        assert pid in self.worker_pids(), f"{pid} is not a worker of this server"
        os.kill(pid, signal.SIGKILL)

    def wait_for_workers(
        self, count: int, timeout: float = READY_TIMEOUT, excluding: tuple[int, ...] = ()
    ) -> list[int]:
        """Wait until exactly ``count`` workers live, none of them in ``excluding``; return them."""

        def settled() -> list[int]:
            pids = self.worker_pids()
            return pids if len(pids) == count and not set(pids) & set(excluding) else []

        return wait_until(
            settled,
            timeout=timeout,
            interval=0.2,
            message=lambda: (
                f"workers are {self.worker_pids()}, not {count} (excluding {list(excluding)})\n"
                f"{self.log_tail()}"
            ),
        )

    def rss_of_workers(self) -> int:
        """Return the resident memory of all workers together, in bytes."""
        return sum(proc.rss(pid) for pid in self.worker_pids())

    # -- the log -----------------------------------------------------------------

    def log_tail(self, chars: int = 4000) -> str:
        """Return the end of what the server wrote since it was last started."""
        text = self._log_text()
        return text[-chars:] if len(text) > chars else text

    def _log_text(self) -> str:
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as log:
            log.seek(self._log_start)
            return log.read().decode("utf-8", "replace")

    # -- internals -----------------------------------------------------------------

    def _spawn(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "the server runs already"
        self.env["ESCALATION_BIND"] = f"127.0.0.1:{self.port}"
        self._log = self.log_path.open("ab")
        self._log_start = self._log.tell()
        gunicorn = Path(sys.executable).parent / "gunicorn"
        self.proc = subprocess.Popen(
            [str(gunicorn), "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            start_new_session=True,  # its own process group, so kill -9 reaches every worker
        )

    def _ready(self) -> bool:
        try:
            # Short-lived probes: the loop around them is what waits.
            response = requests.get(f"{self.url}/readyz", timeout=(5, 30))
        except requests.RequestException:
            return False
        return response.status_code == 200

    def _wait_ready(self, timeout: float) -> None:
        def ready_or_exited() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise ServerError(
                    f"the server exited with {self.proc.returncode} before it was ready\n"
                    f"{self.log_tail()}"
                )
            return self._ready()

        try:
            wait_until(ready_or_exited, timeout=timeout, interval=0.2)
        except WaitTimeout:
            self.kill9()
            raise ServerError(
                f"the server was not ready after {timeout:g} s\n{self.log_tail()}"
            ) from None

    def _reap(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

