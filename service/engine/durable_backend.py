"""Run compiled rule sets on durable-rules: the only module that imports it.

We drive durable-rules' C engine (``durable_rules_engine``) directly rather
than through ``durable.lang``/``durable.engine.Host``: the Host starts timer
threads that race with callers and survive nothing, and its action path runs
Python callbacks whose exceptions it stores and swallows.  Here no Python runs
inside the engine, so an engine failure is always an exception.

One evaluation, all under one process-wide lock (the C extension has none):

1. assert one compact fact under a fresh sid (a fact, not an event: an event
   is consumed by the first matching rule, a fact is seen by every rule);
2. drain the engine's action queue, collecting the name of every rule that
   matched, which always includes the catch-all eviction rule;
3. delete the sid's state, which is safe because an action ran (durable
   segfaults deleting a state where none did).

Nothing outlives the call, so the 1,024-live-sid cap and the 32-bit sid hash
collisions cannot be reached.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading

import durable_rules_engine as _engine

from service.engine.compiler import EVICT_RULE, MARKER, CompiledRuleSet
from service.engine.facts import Facts, engine_fact

log = logging.getLogger(__name__)

# One lock for every engine call in the process: durable's C state is global.
ENGINE_LOCK = threading.Lock()
_ruleset_names = itertools.count()
# After this many states that could not be cleaned up, a fresh engine is built.
MAX_LEAKED_STATES = 64


class EngineError(RuntimeError):
    """The engine failed to evaluate; never to be read as 'no rule matched'."""


class DurableEngine:
    """One compiled rule-set revision loaded into durable-rules."""

    def __init__(self, compiled: CompiledRuleSet) -> None:
        self.compiled = compiled
        self._definition = json.dumps(compiled.definition, ensure_ascii=False)
        self._sids = itertools.count()
        self.leaked_states = 0
        self._pid = -1
        self._handle = -1
        with ENGINE_LOCK:
            self._build()

    def _build(self) -> None:
        name = f"escalation-{self.compiled.revision[-12:]}-{next(_ruleset_names)}"
        try:
            self._handle = _engine.create_ruleset(name, self._definition)
        except Exception as exc:  # durable raises its own RulesError
            raise EngineError(f"durable-rules refused the compiled rule set: {exc}") from exc
        self._pid = os.getpid()
        self.leaked_states = 0

    def match(self, facts: Facts) -> frozenset[str]:
        """Return the ids of every rule whose condition holds for ``facts``."""
        with ENGINE_LOCK:
            if self._pid != os.getpid() or self.leaked_states >= MAX_LEAKED_STATES:
                # A forked child or a poisoned engine: start from a fresh ruleset.
                self._build()
            sid = f"s{next(self._sids)}"
            payload = json.dumps(engine_fact(self.compiled, facts, sid), ensure_ascii=False)
            names = self._evaluate(sid, payload)
        rules = self.compiled.engine_rules
        return frozenset(rules[name] for name in names if name != EVICT_RULE)

    def _evaluate(self, sid: str, payload: str) -> list[str]:
        try:
            names = self._assert_and_drain(payload)
        except Exception as exc:
            self._evict(sid)
            raise EngineError(f"durable-rules failed to evaluate the fact: {exc}") from exc
        if EVICT_RULE not in names:
            self._evict(sid)
            raise EngineError(
                "durable-rules did not run its catch-all rule; the result is unusable"
            )
        self._delete(sid)
        return names

    def _assert_and_drain(self, payload: str) -> list[str]:
        result, state = _engine.assert_fact(self._handle, payload)
        if result != 0:
            raise EngineError(f"unexpected engine result code {result}")
        return self._drain(state)

    def _drain(self, state: int) -> list[str]:
        names: list[str] = []
        action = _engine.start_action_for_state(self._handle, state)
        while action is not None:
            message = action[1] if isinstance(action, tuple) else action
            names.append(next(iter(json.loads(message))))
            action = _engine.complete_and_start_action(self._handle, state)
        return names

    def _evict(self, sid: str) -> None:
        """Clean up a failed evaluation's state through the catch-all rule, never blindly."""
        try:
            result, state = _engine.assert_fact(
                self._handle, json.dumps({"sid": sid, "id": "evict", MARKER: 1})
            )
            if result == 0 and EVICT_RULE in self._drain(state):
                self._delete(sid)
                return
        except Exception:
            log.exception("could not clean up engine state %s", sid)
        self.leaked_states += 1

    def _delete(self, sid: str) -> None:
        try:
            _engine.delete_state(self._handle, sid)
        except Exception:
            log.exception("could not delete engine state %s", sid)
            self.leaked_states += 1

    def has_state(self, sid: str) -> bool:
        """Tell whether the engine still holds state for ``sid`` (used by the tests)."""
        with ENGINE_LOCK:
            try:
                _engine.get_state(self._handle, sid)
            except Exception:
                return False
            return True
