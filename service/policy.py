"""The active policy: a validated, compiled and loaded rule set, swapped atomically on reload."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from service.engine.compiler import CompiledRuleSet, CompileError, compile_ruleset
from service.engine.durable_backend import DurableEngine, EngineError
from service.engine.model import RuleSet
from service.ruleset import loader
from service.ruleset.issues import InvalidFiles, Issue
from service.signals.detect import Detector

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Policy:
    """Everything one rule-set revision needs to decide."""

    ruleset: RuleSet
    compiled: CompiledRuleSet
    engine: DurableEngine
    detector: Detector
    sources: loader.Sources
    loaded_at: datetime

    @property
    def revision(self) -> str:
        """Return the content hash of the rule set."""
        return self.ruleset.revision


def _compile_issues(ruleset: RuleSet, error: CompileError) -> list[Issue]:
    issues = []
    for rule_id, message in error.problems:
        rule = ruleset.by_id.get(rule_id) if rule_id else None
        if rule is not None:
            issues.append(Issue(rule.source.file, rule.source.line, message, rule=rule.id))
        else:
            issues.append(Issue(ruleset.files[0] if ruleset.files else "rules", 1, message))
    return issues


def build_policy(root: Path) -> Policy:
    """Load, validate, compile and load a rules directory; raise InvalidFiles on any problem."""
    loaded = loader.load(root)
    try:
        compiled = compile_ruleset(loaded.ruleset)
    except CompileError as exc:
        raise InvalidFiles(_compile_issues(loaded.ruleset, exc)) from exc
    try:
        engine = DurableEngine(compiled)
    except EngineError as exc:
        raise InvalidFiles([Issue(loaded.ruleset.files[0], 1, str(exc))]) from exc
    return Policy(
        ruleset=loaded.ruleset,
        compiled=compiled,
        engine=engine,
        detector=Detector(loaded.lexicon),
        sources=loaded.sources,
        loaded_at=datetime.now(UTC),
    )


class PolicyHolder:
    """Hold the active policy; a reload replaces it only when the new one is valid.

    ``marker`` is a file shared by the worker processes of one service: a
    reload in any worker rewrites it, and every worker that sees it change
    reloads from disk before its next decision, so all workers follow an
    explicit reload (and none follows a half-edited file on its own).
    """

    def __init__(
        self, root: Path, marker: Path | None = None, policy: Policy | None = None
    ) -> None:
        self.root = root
        self.marker = marker
        self._lock = threading.Lock()
        self._stamp = self._read_stamp()
        self._policy = policy or build_policy(root)

    def _read_stamp(self) -> tuple[int, int] | None:
        if self.marker is None:
            return None
        try:
            stat = self.marker.stat()
        except FileNotFoundError:
            return None
        # The inode changes with every rewrite, even within one clock tick.
        return stat.st_mtime_ns, stat.st_ino

    @property
    def current(self) -> Policy:
        """Return the policy in force, following a reload made by another worker."""
        if self.marker is not None:
            stamp = self._read_stamp()
            if stamp != self._stamp:
                self._follow(stamp)
        return self._policy

    def _follow(self, stamp: tuple[int, int] | None) -> None:
        with self._lock:
            if stamp == self._stamp:
                return
            self._stamp = stamp
            try:
                self._swap(build_policy(self.root))
            except InvalidFiles as exc:
                log.error(
                    "rules changed but are not valid; keeping %s:\n%s", self._policy.revision, exc
                )

    def _swap(self, policy: Policy) -> None:
        previous, self._policy = self._policy, policy
        if previous.revision != policy.revision:
            log.info("rules reloaded: %s -> %s", previous.revision, policy.revision)

    def reload(self) -> Policy:
        """Build the policy from the files as they are now and make it current everywhere.

        Raise InvalidFiles, keeping the current policy, when the files are not valid.
        """
        with self._lock:
            policy = build_policy(self.root)
            self._swap(policy)
            if self.marker is not None:
                self.marker.parent.mkdir(parents=True, exist_ok=True)
                temporary = self.marker.with_name(f"{self.marker.name}.{os.getpid()}.tmp")
                temporary.write_text(policy.revision + "\n")
                temporary.replace(self.marker)
                self._stamp = self._read_stamp()
        return policy
