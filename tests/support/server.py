"""Run the real service under gunicorn for tests that cross process boundaries."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """Return a TCP port free on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """gunicorn -c gunicorn.conf.py wsgi:app, as `make serve` runs it, on a free port."""

    def __init__(self, instance: Path, workers: int = 2, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.instance = instance
        self.env = {
            **os.environ,
            "ESCALATION_BIND": f"127.0.0.1:{self.port}",
            "ESCALATION_WORKERS": str(workers),
            "ESCALATION_INSTANCE_PATH": str(instance),
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> Server:
        """Start the server and wait until it is ready."""
        gunicorn = Path(sys.executable).parent / "gunicorn"
        log = (self.instance / "server.log").open("ab")
        self.proc = subprocess.Popen(
            [str(gunicorn), "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=log,
            start_new_session=True,  # its own process group, so kill -9 reaches every worker
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the server exited: {(self.instance / 'server.log').read_text()[-2000:]}"
                )
            try:
                if requests.get(f"{self.url}/readyz", timeout=1).ok:
                    return self
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError("the server did not become ready")

    def kill9(self) -> None:
        """Kill the master and every worker at once, as a crash would."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        """Stop the server gracefully."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill9()
