"""API keys: tokens, their hashes, scopes, the operator's key file, and each worker's key table.

A token is ``esk_`` plus 32 random bytes (URL-safe base64).  Only its SHA-256
is stored: a 256-bit random secret cannot be guessed from its hash, so a slow
password KDF would add cost and no safety.  The database is the source of
truth; the key file (``ESCALATION_API_KEYS``) is the operator's way in, each
line imported once, and a revoked hash stays in the database as a tombstone so
a stale copy of the file never brings it back.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from service.hints import Hinted, did_you_mean, one_of
from service.store import keys as rows
from service.store.repository import Store

log = logging.getLogger(__name__)

# scope -> what it allows; the order is the documentation's.
SCOPES: Mapping[str, str] = {
    "events:write": "send case events and evaluate events (POST /v1/cases/{id}/events, "
    "POST /v1/evaluate)",
    "decisions:read": "read cases, decisions, the rule set, its revisions, operations data",
    "rules:admin": "validate, reload and activate rules; agents' profiles; webhooks",
    "text:read": "see customers' message text unmasked where an endpoint can show it",
}
TOKEN_PREFIX = "esk_"
HASH_PREFIX = "sha256:"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_HASH = re.compile(r"sha256:[0-9a-f]{64}")
FILE_HEADER = (
    "# API keys of the escalation service: name, scopes, SHA-256 of the token.\n"
    "# Lines are imported into the database once; revoke with `escalation keys revoke NAME`.\n"
)


class InvalidKey(ValueError):
    """A key name, scope list or key-file line is not valid."""


@dataclass(frozen=True)
class Key:
    """A key the service accepts: its name and scopes."""

    name: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class FileLine:
    """One key of the key file."""

    name: str
    scopes: tuple[str, ...]
    token_hash: str


def new_token() -> str:
    """Return a new random token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Return the stored form of a token: ``sha256:`` and its hex digest."""
    return HASH_PREFIX + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid key name, else raise InvalidKey saying why."""
    if not NAME.fullmatch(name):
        raise InvalidKey(
            f"invalid key name {name!r}: 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def parse_scopes(text: str | Iterable[str]) -> tuple[str, ...]:
    """Return the scopes of a comma-separated list, sorted; raise InvalidKey on an unknown one."""
    given = text.split(",") if isinstance(text, str) else list(text)
    scopes = {s.strip() for s in given if s.strip()}
    if not scopes:
        raise InvalidKey(f"no scopes given; {one_of(SCOPES)}")
    for scope in sorted(scopes):
        if scope not in SCOPES:
            raise InvalidKey(
                Hinted(
                    f"unknown scope {scope!r}",
                    did_you_mean(scope, SCOPES) or one_of(SCOPES),
                )
            )
    return tuple(s for s in SCOPES if s in scopes)


def format_line(name: str, scopes: Sequence[str], token_hash: str) -> str:
    """Return the key-file line of a key."""
    return f"{name} {','.join(scopes)} {token_hash}\n"


def parse_file(text: str) -> tuple[list[FileLine], list[str]]:
    """Return the keys of a key file and a problem for each line that is not one."""
    found: list[FileLine] = []
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        try:
            if len(parts) != 3:
                raise InvalidKey("expected three fields: name, scopes, sha256:<hex>")
            name, scopes, token_hash = parts
            if not _HASH.fullmatch(token_hash):
                raise InvalidKey("the third field is not sha256: and 64 hex digits")
            found.append(FileLine(check_name(name), parse_scopes(scopes), token_hash))
        except InvalidKey as exc:
            problems.append(f"line {number}: {exc}")
    return found, problems


def append_to_file(path: Path, line: FileLine) -> None:
    """Add a key to the key file, creating it (readable by its owner only) if missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        if handle.tell() == 0:
            handle.write(FILE_HEADER)
        handle.write(format_line(line.name, line.scopes, line.token_hash))


def remove_from_file(path: Path, name: str) -> bool:
    """Drop a key's line from the key file; return whether there was one."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    kept = [ln for ln in text.splitlines(keepends=True) if ln.split()[:1] != [name]]
    if len(kept) == len(text.splitlines(keepends=True)):
        return False
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.writelines(kept)
    temporary.replace(path)
    return True


def import_file(store: Store, path: Path, now: datetime) -> list[str]:
    """Add the key file's keys that the database lacks; return the names added.

    A line whose hash or name is stored already is left alone: in particular a
    revoked key's hash stays revoked, whatever a stale file says.
    """
    try:
        # A byte that is not UTF-8 spoils its line only (reported, skipped).
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    lines, problems = parse_file(text)
    for problem in problems:
        log.warning("key file %s, %s; the line is ignored", path, problem)
    added: list[str] = []
    with store.read() as conn:
        stored = {(r.name, r.token_hash) for r in rows.all_keys(conn)}
    names = {name for name, _ in stored}
    hashes = {token_hash for _, token_hash in stored}
    new = [ln for ln in lines if ln.name not in names and ln.token_hash not in hashes]
    for line in lines:
        if line.name in names and (line.name, line.token_hash) not in stored:
            log.warning("key file %s: the name %s is taken by another key", path, line.name)
    if new:
        with store.write() as conn:
            added = [
                ln.name for ln in new if rows.insert(conn, ln.name, ln.scopes, ln.token_hash, now)
            ]
    for name in added:
        log.info("imported API key %s from %s", name, path)
    return added


class KeyRing:
    """One worker's table of active keys, refreshed from the database every ``interval`` seconds.

    The refresh is a cheap version query; the whole table is read only when it
    changed.  The key file is imported at the first refresh and whenever its
    modification time or size changes.  A daemon thread refreshes (``start``);
    a lookup finding the table older than ``interval`` refreshes first too, so
    a slow or stopped poller never lets a revoked key through for long.
    """

    def __init__(
        self,
        store: Store,
        key_file: Path | None,
        *,
        interval: float = 1.0,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.key_file = key_file
        self.interval = interval
        self.clock = clock
        # hash -> (the stored hash, the key)
        self._by_hash: dict[str, tuple[str, Key]] = {}
        self._version: tuple[int, int] | None = None
        self._file_stamp: tuple[int, int] | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Refresh every ``interval`` seconds in a daemon thread."""
        if self._thread is not None or self.interval <= 0:
            return
        # The thread holds the ring weakly: an application that is dropped
        # (tests make many) takes its poller with it.
        self._thread = threading.Thread(
            target=_poll,
            args=(weakref.ref(self), self._stop, self.interval),
            name="api-keys-poller",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the poller."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def refresh(self) -> None:
        """Import the key file if it changed, then reload the keys if the database's changed."""
        with self._lock:
            self._import_file()
            with self.store.read() as conn:
                current = rows.version(conn)
                if current != self._version:
                    self._by_hash = {
                        r.token_hash: (r.token_hash, Key(r.name, frozenset(r.scopes)))
                        for r in rows.all_keys(conn)
                        if r.revoked_at is None
                    }
                    self._version = current
            self._checked = time.monotonic()

    def lookup(self, token: str) -> Key | None:
        """Return the active key of a token, or None; refresh first when the table is stale."""
        if time.monotonic() - self._checked >= self.interval:
            try:
                self.refresh()
            except Exception:
                # Keep serving with the table we have; the next request tries again.
                log.exception("could not refresh the API keys")
        digest = hash_token(token)
        found = self._by_hash.get(digest)
        if found is None:
            return None
        # The lookup is by hash, so its timing tells nothing of the token; the
        # final comparison is constant-time all the same.
        stored, key = found
        return key if hmac.compare_digest(stored, digest) else None

    def active(self) -> int:
        """Return how many keys the table holds."""
        return len(self._by_hash)

    def _import_file(self) -> None:
        if self.key_file is None:
            return
        stamp: tuple[int, int] | None = None
        with contextlib.suppress(FileNotFoundError):
            status = self.key_file.stat()
            stamp = (status.st_mtime_ns, status.st_size)
        if stamp is None or stamp == self._file_stamp:
            return
        import_file(self.store, self.key_file, self.clock())
        self._file_stamp = stamp


def _poll(ref: weakref.ref[KeyRing], stop: threading.Event, interval: float) -> None:
    failing = False
    while not stop.wait(interval):
        ring = ref()
        if ring is None:
            return
        try:
            ring.refresh()
            failing = False
        except Exception:
            # Once per outage, not every second.
            if not failing:
                log.exception("could not refresh the API keys; retrying every %g s", interval)
            failing = True
        del ring
