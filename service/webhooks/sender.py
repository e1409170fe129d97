"""Send queued webhook deliveries: claim, commit, send, record; retry on a schedule.

One sender thread runs in each worker.  It claims due deliveries with a
lease in one short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
the senders of several servers share the work; the writer lock on SQLite),
commits, and only then sends, so no database lock is held during HTTP.  The
attempt is recorded afterwards.  A crash between sending and recording leaves
the lease to expire and the delivery is sent again with the same
``webhook-id``: delivery is at least once.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from service import metrics
from service.store import webhooks as db
from service.store.repository import Store
from service.webhooks import outbox, rules

log = logging.getLogger(__name__)
# httpx logs every request's URL at INFO; endpoint URLs may carry tokens.
logging.getLogger("httpx").setLevel(logging.WARNING)

# Short on purpose: a slow receiver must not hold up the deliveries behind it.
TIMEOUT = httpx.Timeout(5.0, connect=2.0, write=2.0, pool=2.0)
LEASE_SECONDS = 60.0
BATCH = 20
GONE = "the receiver answered 410 Gone"
USER_AGENT = "escalation-service-webhooks/1"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Sender:
    """Work off the webhook outbox of one database."""

    def __init__(
        self,
        store: Store,
        schedule: tuple[float, ...] = rules.DEFAULT_SCHEDULE,
        *,
        clock: Callable[[], datetime] = _utc_now,
        lease: float = LEASE_SECONDS,
        batch: int = BATCH,
        timeout: httpx.Timeout = TIMEOUT,
        hash_key: bytes | None = None,
    ) -> None:
        self.store = store
        self.hash_key = hash_key  # keys the hashes of masked evidence in payloads
        self.schedule = schedule
        self.clock = clock
        self.lease = timedelta(seconds=lease)
        self.batch = batch
        self.timeout = timeout
        # Made on the first send: building one loads the CA bundle, which most workers never need.
        self._client: httpx.Client | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def client(self) -> httpx.Client:
        """Return the HTTP client: short timeouts, no redirects followed."""
        if self._client is None:
            self._client = httpx.Client(
                timeout=self.timeout, follow_redirects=False, headers={"user-agent": USER_AGENT}
            )
        return self._client

    def claim(self) -> list[db.Claimed]:
        """Take due deliveries under a lease, in one committed transaction."""
        now = self.clock()
        # A read first: most passes find nothing, and reads never wait for the writer lock.
        with self.store.read() as conn:
            if not db.any_due(conn, now):
                return []
        with self.store.write() as conn:
            return db.claim(conn, now, now + self.lease, self.batch)

    def run_once(self) -> int:
        """Claim due deliveries, send each and record the attempt; return how many were sent."""
        if not outbox.any_enabled(self.store):
            return 0
        claimed = self.claim()
        for item in claimed:
            self.send(item)
        return len(claimed)

    def send(self, item: db.Claimed) -> None:
        """Send one claimed delivery and record the attempt."""
        delivery = item.delivery
        payload = rules.body(
            delivery.type, rules.wire_decision(delivery.payload, self.hash_key), delivery.created_at
        )
        started = self.clock()
        clock_started = time.monotonic()
        status_code: int | None = None
        error: str | None = None
        retry_after: str | None = None
        try:
            # Signed with the wall clock whatever the service's clock: receivers check it.
            headers = rules.headers(item.secret, delivery.decision_id, _utc_now(), payload)
            response = self.client().post(item.url, content=payload, headers=headers)
            status_code = response.status_code
            retry_after = response.headers.get("retry-after")
        except httpx.TimeoutException:
            error = "timeout"
        except httpx.HTTPError as exc:
            error = f"network error ({type(exc).__name__})"
        duration_ms = round((time.monotonic() - clock_started) * 1000, 1)
        self.record(item, started, status_code, error, duration_ms, retry_after)

    def record(
        self,
        item: db.Claimed,
        started: datetime,
        status_code: int | None,
        error: str | None,
        duration_ms: float,
        retry_after: str | None = None,
    ) -> None:
        """Record one attempt's result and decide what happens to the delivery next."""
        delivery = item.delivery
        now = self.clock()
        attempt: dict[str, Any] = {
            "at": started.astimezone(UTC).isoformat(),
            "status_code": status_code,
            "error": error,
            "duration_ms": duration_ms,
        }
        next_at: datetime | None = None
        if status_code is not None and 200 <= status_code < 300:
            status = db.DELIVERED
        elif status_code == 410:
            status = db.FAILED
        else:
            wait = rules.next_wait(
                self.schedule,
                delivery.round_attempts + 1,
                rules.parse_retry_after(retry_after, now),
            )
            status = db.FAILED if wait is None else db.PENDING
            next_at = None if wait is None else started + timedelta(seconds=wait)
        with self.store.write() as conn:
            db.record_attempt(
                conn, delivery.seq, attempt, status=status, next_attempt_at=next_at, now=now
            )
            if status_code == 410:
                db.disable_endpoint(conn, delivery.endpoint_seq, GONE, now)
        if status_code == 410:
            outbox.forget(self.store.engine)
        metrics.WEBHOOK_ATTEMPTS.labels(status, metrics.response_class(status_code, error)).inc()
        log.info(
            "webhook delivery %s: attempt %d, %s, now %s",
            delivery.delivery_id,
            delivery.round_attempts + 1,
            status_code if status_code is not None else error,
            status,
        )

    def start(self, interval: float) -> None:
        """Send in a background thread, looking for due deliveries every ``interval`` seconds."""
        # The thread holds the sender weakly: an application dropped without
        # stop() (a test's) takes its sender thread with it.
        ref, stop, batch = weakref.ref(self), self._stop, self.batch

        def loop() -> None:
            while not stop.is_set():
                sender = ref()
                if sender is None:
                    return
                busy = False
                try:
                    busy = sender.run_once() >= batch
                except Exception as exc:
                    # The name only: database errors quote parameters, which hold decisions.
                    log.error("webhook sender pass failed: %s", type(exc).__name__)
                del sender
                if not busy:
                    stop.wait(interval)

        self._thread = threading.Thread(target=loop, name="webhook-sender", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread and close the HTTP client."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        if self._client is not None:
            self._client.close()
