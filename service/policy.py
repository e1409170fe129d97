"""The active policy: a validated, compiled and loaded rule bundle, served by every worker.

Which revision is active lives in the database (``service.store.rules``),
never in a worker's memory or on one machine's disk.  Each worker keeps a
``PolicyHolder``: it boots from the active bundle in the database (seeding
an empty database from the bundled rules folder), polls the one-row pointer
in a background thread, and builds a new revision there, off the request
path, before swapping it in.  A request takes ``holder.current`` once and
keeps that policy to its end, whatever is activated meanwhile.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from service import metrics
from service.engine import durable_backend
from service.engine.compiler import CompiledRuleSet, CompileError, compile_ruleset
from service.engine.durable_backend import DurableEngine, EngineError
from service.engine.model import RuleSet
from service.engine.readable import readable_of
from service.masking import Readable
from service.ruleset import loader
from service.ruleset.bundle import Bundle
from service.ruleset.issues import InvalidFiles, Issue
from service.ruleset.modelfile import bundled
from service.signals.detect import Detector
from service.store import rules as rules_store
from service.store.repository import Store

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Return the current time in UTC (the default clock)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Checked:
    """A bundle that is valid and compiles: everything but a live engine."""

    loaded: loader.Loaded
    compiled: CompiledRuleSet

    @property
    def revision(self) -> str:
        """Return the bundle's revision."""
        return self.loaded.ruleset.revision


@dataclass(frozen=True)
class Policy:
    """Everything one rule-set revision needs to decide."""

    ruleset: RuleSet
    compiled: CompiledRuleSet
    engine: DurableEngine
    detector: Detector
    bundle: Bundle
    loaded_at: datetime

    @property
    def revision(self) -> str:
        """Return the content hash of the rule set."""
        return self.ruleset.revision

    @cached_property
    def readable(self) -> Readable:
        """Return the attribute values this rule set reads as numbers or enumerations."""
        return readable_of(self.ruleset)


def _compile_issues(ruleset: RuleSet, error: CompileError) -> list[Issue]:
    issues = []
    for rule_id, message in error.problems:
        rule = ruleset.by_id.get(rule_id) if rule_id else None
        if rule is not None:
            issues.append(Issue(rule.source.file, rule.source.line, message, rule=rule.id))
        else:
            issues.append(Issue(ruleset.files[0] if ruleset.files else "rules", 1, message))
    return issues


def check(source: Path | Bundle) -> Checked:
    """Validate and compile a rules folder or bundle, building no engine; raise InvalidFiles."""
    loaded = loader.load(source) if isinstance(source, Path) else loader.load_bundle(source)
    try:
        compiled = compile_ruleset(loaded.ruleset)
    except CompileError as exc:
        raise InvalidFiles(_compile_issues(loaded.ruleset, exc)) from exc
    return Checked(loaded, compiled)


def build_policy(source: Path | Bundle | Checked, *, signal_model: bool = True) -> Policy:
    """Load, validate, compile and load into the engine; raise InvalidFiles on any problem.

    ``signal_model`` puts the trained signal model behind the lexicon
    (docs/lexicons.md); false leaves the lexicon alone.
    """
    checked = source if isinstance(source, Checked) else check(source)
    loaded = checked.loaded
    try:
        engine = DurableEngine(checked.compiled)
    except EngineError as exc:
        first = loaded.ruleset.files[0] if loaded.ruleset.files else "rules"
        raise InvalidFiles([Issue(first, 1, str(exc))]) from exc
    return Policy(
        ruleset=loaded.ruleset,
        compiled=checked.compiled,
        engine=engine,
        detector=Detector(loaded.lexicon, model=bundled() if signal_model else None),
        bundle=loaded.bundle,
        loaded_at=utc_now(),
    )


class PolicyHolder:
    """Serve the revision the database names; follow every activation within a poll.

    ``cache_size`` policies stay built, so a rollback or an alternation between
    revisions costs no compile.  durable-rules keeps a little memory of every
    ruleset it ever created even once freed, so after ``max_builds`` builds
    the holder asks for its worker to be recycled (``on_recycle``, set by
    gunicorn's hook); memory stays bounded however many activations come.
    """

    def __init__(
        self,
        store: Store,
        seed_dir: Path,
        *,
        policy: Policy | None = None,
        cache_size: int = 4,
        max_builds: int = 0,
        clock: Clock = utc_now,
        signal_model: bool = True,
    ) -> None:
        self.store = store
        self.seed_dir = seed_dir
        self.signal_model = signal_model
        self.clock = clock
        self.cache_size = max(1, cache_size)
        self.max_builds = max_builds
        self.on_recycle: Callable[[], None] | None = None
        self.generation = 0
        self._cache: OrderedDict[str, Policy] = OrderedDict()
        if policy is not None:
            self._cache[policy.revision] = policy
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._policy = self._boot(policy)

    # -- booting and following ------------------------------------------------

    def _boot(self, given: Policy | None) -> Policy:
        with self.store.read() as conn:
            active = rules_store.active(conn)
        if active is None:
            seeded = given or self._build(self.seed_dir)
            self._seed(seeded)
            with self.store.read() as conn:
                active = rules_store.active(conn)
            assert active is not None
        self.generation = active.generation
        try:
            policy = self._obtain(active.revision)
            log.info(
                "rules loaded",
                extra={"revision": policy.revision, "generation": self.generation},
            )
            return policy
        except (InvalidFiles, LookupError):
            # The stored revision no longer builds (a newer service version
            # refusing it): serve the bundled rules rather than nothing.
            log.exception("the active revision %s does not build here", active.revision)
            return self._remember(given or self._build(self.seed_dir))

    def _build(self, source: Path | Bundle) -> Policy:
        """Build a policy with this holder's choice of signal model."""
        return build_policy(source, signal_model=self.signal_model)

    def _seed(self, policy: Policy) -> None:
        now = self.clock()
        with self.store.write() as conn:
            rules_store.save_bundle(
                conn, policy.revision, policy.bundle.as_text(), "seed", now
            )
            if rules_store.seed(conn, policy.revision, now):
                rules_store.record_activation(
                    conn,
                    revision=policy.revision,
                    previous=None,
                    action="seed",
                    by=f"seed from {self.seed_dir.name}/",
                    now=now,
                )
                log.info(
                    "rules seeded",
                    extra={"revision": policy.revision, "seed_dir": str(self.seed_dir)},
                )

    def _remember(self, policy: Policy) -> Policy:
        self._cache[policy.revision] = policy
        self._cache.move_to_end(policy.revision)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return policy

    def _obtain(self, revision: str) -> Policy:
        """Return the policy of a stored revision, built once and cached."""
        cached = self._cache.get(revision)
        if cached is not None:
            self._cache.move_to_end(revision)
            return cached
        with self.store.read() as conn:
            files = rules_store.bundle_files(conn, revision)
        if files is None:
            raise LookupError(f"no stored bundle with revision {revision}")
        policy = self._build(Bundle.from_text(files))
        if policy.revision != revision:
            raise LookupError(f"the bundle stored as {revision} hashes to {policy.revision}")
        self._remember(policy)
        self._after_build()
        return policy

    def candidate(self, bundle: Bundle) -> Policy:
        """Return the policy of a bundle not necessarily stored, built once and cached."""
        with self._lock:
            cached = self._cache.get(bundle.revision)
            if cached is not None:
                self._cache.move_to_end(bundle.revision)
                return cached
            policy = self._build(bundle)
            self._remember(policy)
            self._after_build()
            return policy

    def _after_build(self) -> None:
        durable_backend.free_collected()
        built = durable_backend.rulesets_built()
        if self.max_builds and built >= self.max_builds and self.on_recycle is not None:
            log.info("%d rulesets built in this worker; recycling it to return their memory", built)
            self.on_recycle()

    @property
    def current(self) -> Policy:
        """Return the policy in force in this worker; never waits for a build."""
        return self._policy

    def get(self, revision: str) -> Policy:
        """Return the policy of any stored revision (building it if needed)."""
        with self._lock:
            return self._obtain(revision)

    def refresh(self) -> bool:
        """Follow the database's active revision; return whether the policy changed."""
        with self.store.read() as conn:
            active = rules_store.active(conn)
        if active is None or (
            active.revision == self._policy.revision and active.generation == self.generation
        ):
            return False
        with self._lock:
            try:
                policy = self._obtain(active.revision)
            except (InvalidFiles, LookupError):
                log.exception("cannot serve the active revision %s", active.revision)
                return False
            self.generation = active.generation
            return self._swap(policy)

    def adopt(self, policy: Policy, generation: int) -> None:
        """Serve a policy this worker just activated, without rebuilding it."""
        with self._lock:
            self._remember(policy)
            self.generation = max(self.generation, generation)
            self._swap(policy)

    def _swap(self, policy: Policy) -> bool:
        previous, self._policy = self._policy, policy
        if previous.revision == policy.revision:
            return False
        metrics.RULE_RELOADS.inc()
        log.info(
            "rules reloaded",
            extra={"revision": policy.revision, "previous_revision": previous.revision},
        )
        return True

    # -- the poller ------------------------------------------------------------

    def start_polling(self, interval: float) -> None:
        """Poll the active revision every ``interval`` seconds in a daemon thread."""
        if self._thread is not None or interval <= 0:
            return
        # The thread holds the holder weakly: an application that is dropped
        # (tests make many) takes its poller with it.
        self._thread = threading.Thread(
            target=_poll,
            args=(weakref.ref(self), self._stop, interval),
            name="rules-poller",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def _poll(ref: weakref.ref[PolicyHolder], stop: threading.Event, interval: float) -> None:
    failing = ""
    while not stop.wait(interval):
        holder = ref()
        if holder is None:
            return
        try:
            holder.refresh()
            failing = ""
        except Exception as exc:
            # A database hiccup must not end the thread: try again next time,
            # and say so once, not once a second.
            if str(exc) != failing:
                log.exception("could not poll the active rules revision")
            failing = str(exc)
        del holder
