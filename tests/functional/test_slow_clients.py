"""Slow clients cannot starve the real server (gunicorn.conf.py as `make serve` runs it).

64 clients trickle their headers and 64 their bodies, a byte every half second;
while every one of them is still connected, /healthz and an events POST answer.
Latencies are printed (``pytest -s``), never asserted: bench/slow_clients.py
measures them. Bodies are bounded however they are framed, and a long URL is
answered by the API, in problem+json.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.events import body
from tests.support.keys import TEST_TOKEN, bearer
from tests.support.server import Server
from tests.support.trickle import Tricklers, body_start, summary
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow

TRICKLERS = 64
# Probes keep going this long while the tricklers trickle (plus the time to start them).
PROBE_SECONDS = 15.0
# (connect, read) seconds: generous on a busy machine, never asserted on.
TIMEOUT = (10.0, 60.0)
# A probe not answered in this many seconds is starved (answers take milliseconds;
# under gunicorn's gthread workers, the setup before, probes wait minutes).
STARVED = 60.0

KEYED = bearer(TEST_TOKEN)  # the key the Server harness gives every server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with Server(
        tmp_path_factory.mktemp("slow") / "instance",
        ESCALATION_ACCESS_LOG="/dev/null",
        # However slow the machine, no trickler is cut off while the probes run
        # (30 s by default; test_slow_heads_are_closed_and_slow_bodies_get_408 cuts them).
        ESCALATION_HEADER_TIMEOUT_SECONDS="900",
        ESCALATION_BODY_TIMEOUT_SECONDS="900",
    ) as running:
        yield running


def send(server: Server, method: str, path: str, **kwargs: Any) -> requests.Response:
    """Send one request, again after any connection error; a read timeout means starved.

    Not the retrying client: a probe stuck behind the tricklers would be sent
    again and again until one got through. A probe left unanswered for
    STARVED seconds (thousands of times what it takes) fails the test.
    """
    deadline = time.monotonic() + 180
    while True:
        try:
            return requests.request(
                method, f"{server.url}{path}", timeout=(10, STARVED), headers=KEYED, **kwargs
            )
        except requests.ReadTimeout:
            raise
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def test_health_and_events_answer_while_128_clients_trickle(server: Server) -> None:
    health: list[float] = []
    events: list[float] = []
    failures: list[str] = []

    def get_health() -> bool:
        response = send(server, "GET", "/healthz")
        if response.status_code != 200:
            failures.append(f"healthz {response.status_code}")
        return response.status_code == 200

    def post_event() -> bool:
        response = send(server, "POST", "/v1/cases/fast-1/events", json=body())
        if response.status_code not in (200, 201):
            failures.append(f"event {response.status_code}: {response.text[:200]}")
        return response.status_code in (200, 201)

    workers = server.worker_pids()
    with Tricklers(server.port, headers=TRICKLERS, bodies=TRICKLERS) as tricklers:
        tricklers.wait_started()
        deadline = time.monotonic() + PROBE_SECONDS
        while time.monotonic() < deadline:
            for probe, latencies, name in (
                (get_health, health, "healthz"),
                (post_event, events, "event"),
            ):
                start = time.perf_counter()
                try:
                    ok = probe()
                except requests.RequestException as exc:
                    failures.append(f"{name}: {exc!r} after {time.perf_counter() - start:.1f}s")
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - start)
            time.sleep(0.1)
        tricklers.settle()
        closed = tricklers.closed_by_server
        rounds = tricklers.rounds

    print(f"\nwhile {2 * TRICKLERS} clients trickled ({rounds} bytes each):")
    print(f"  /healthz       {summary(health)}")
    print(f"  events POST    {summary(events)}")
    assert failures == []
    assert health
    assert events
    # Every trickler held its connection the whole time, and no worker was replaced
    # (which would have dropped them): the answers came despite them.
    assert closed == 0
    assert server.worker_pids() == workers


def test_a_chunked_5_mb_event_is_refused_with_413_problem_json(server: Server) -> None:
    chunk = b"x" * 65536

    def chunks() -> Iterator[bytes]:  # a generator: requests sends it chunked
        for _ in range(80):
            yield chunk

    response = requests.post(
        f"{server.url}/v1/cases/big-1/events",
        data=chunks(),
        headers={"Content-Type": "application/json", **KEYED},
        timeout=TIMEOUT,
    )

    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "payload_too_large"


def test_a_10_kb_case_id_is_answered_by_the_api_in_problem_json(server: Server) -> None:
    response = server.client.get("/v1/cases/" + "c" * 10_000)

    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.status_code in (404, 422)
    assert response.json()["status"] == response.status_code


def test_headers_past_the_limit_are_refused_by_the_server_not_held(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: big\r\n")
        # Headers that keep coming (4 KB at a time) until the server answers.
        answer = b""
        for i in range(64):  # 256 KB at most, well past the 64 KB limit
            sock.sendall(f"X-Big-{i}: ".encode() + b"b" * 4096 + b"\r\n")
            time.sleep(0.02)
            if select.select([sock], [], [], 0)[0]:
                answer = sock.recv(4096)
                break
        else:
            answer = sock.recv(4096)

    # The HTTP parser answers before the app: not problem+json (docs/deployment.md).
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]


def test_slow_heads_are_closed_and_slow_bodies_get_408(tmp_path: Path) -> None:
    with (
        Server(
            tmp_path / "instance",
            workers=1,
            ESCALATION_ACCESS_LOG="/dev/null",
            ESCALATION_HEADER_TIMEOUT_SECONDS="2",
            ESCALATION_BODY_TIMEOUT_SECONDS="2",
        ) as server,
        Tricklers(server.port, headers=4, bodies=0) as tricklers,
    ):
        # Each head trickler the server cuts off is counted (and opened again).
        wait_until(lambda: tricklers.closed_by_server >= 4, timeout=180, interval=0.5)
        with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
            sock.sendall(body_start(0))
            answer = b""
            while chunk := sock.recv(65536):  # the server answers and closes
                answer += chunk
        head, _, document = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 ")
        assert b"content-type: application/problem+json" in head.lower()
        assert json.loads(document)["code"] == "request_timeout"
        assert server.client.get("/healthz").status_code == 200
