"""Run compiled rule sets on durable-rules: the only module that imports it.

We drive durable-rules' C engine (``durable_rules_engine``) directly rather
than through ``durable.lang``/``durable.engine.Host``: the Host starts timer
threads that race with callers, and its action path runs Python callbacks
whose exceptions it stores and swallows.  Here no Python runs inside the
engine, so an engine failure is always an exception.

One evaluation, all under one process-wide lock (the C extension has none):

1. assert one compact fact (a fact, not an event: an event is consumed by the
   first matching rule, a fact is seen by every rule);
2. drain the engine's action queue, collecting the name of every rule that
   matched, which always includes the catch-all rule;
3. retract the fact, so nothing of the evaluation stays in the engine.

Facts go to one long-lived session (sid) per engine.  Creating and deleting a
session per evaluation would be simpler, but durable allocates a session's
state in proportion to the number of rules: with 1,000 rules that costs about
0.6 ms of every evaluation against 5 µs for an assert into a live session
(docs/durable-rules.md).  One session also keeps far from the 1,024-session
cap and from 32-bit session-hash collisions.  After any failure the session
is retired: a clean-up fact fires the catch-all rule, so an action has run
and ``delete_state`` is safe (durable segfaults deleting a state where none
did), and the next evaluation starts in a fresh session.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
import weakref

import durable_rules_engine as _engine

from service.engine.compiler import EVICT_RULE, MARKER, CompiledRuleSet, Partition
from service.engine.facts import Facts, engine_fact

log = logging.getLogger(__name__)

# One lock for every engine call in the process: durable's C state is global.
ENGINE_LOCK = threading.Lock()
_JSON = json.JSONDecoder()
# What json.dumps(fact, ensure_ascii=False) writes, with its encoder built once, not per fact.
_FACT_JSON = json.JSONEncoder(ensure_ascii=False)
_ruleset_names = itertools.count()
# After this many states that could not be cleaned up, a fresh engine is built.
MAX_LEAKED_STATES = 64
# Rulesets of engines that were garbage-collected, freed at the next engine
# call: a finalizer may run in any thread, even one holding ENGINE_LOCK.
_graveyard: list[tuple[int, int]] = []
_rulesets_built = 0
_live: set[int] = set()


def rulesets_built() -> int:
    """Return how many rulesets this process has created (each leaks a little in durable)."""
    return _rulesets_built


def free_collected() -> int:
    """Free the rulesets of engines nobody references; return how many rulesets remain."""
    with ENGINE_LOCK:
        _free_buried()
        return len(_live)


def _bury(handle: int, pid: int) -> None:
    _graveyard.append((handle, pid))


def _free_buried() -> None:
    """Delete the rulesets of collected engines; call with ENGINE_LOCK held."""
    while _graveyard:
        handle, pid = _graveyard.pop()
        if pid == os.getpid() and handle in _live:
            _live.discard(handle)
            try:
                _engine.delete_ruleset(handle)
            except Exception:
                log.exception("could not free engine ruleset %s", handle)


class EngineError(RuntimeError):
    """The engine failed to evaluate; never to be read as 'no rule matched'."""


class _Ruleset:
    """One durable ruleset (a partition of a revision) and its one live session."""

    def __init__(self, revision: str, definition: dict[str, dict[str, object]]) -> None:
        self.revision = revision
        self._definition = json.dumps(definition, ensure_ascii=False)
        self._sessions = itertools.count()
        self.sid = ""
        self.leaked_states = 0
        self._pid = -1
        self._handle = -1
        self._finalizer: weakref.finalize[[int, int], _Ruleset] | None = None
        self._build()

    def _build(self) -> None:
        global _rulesets_built
        if self._finalizer is not None:
            # The poisoned ruleset being replaced is freed with the other collected ones.
            self._finalizer()
        _free_buried()
        name = f"escalation-{self.revision[-12:]}-{next(_ruleset_names)}"
        try:
            self._handle = _engine.create_ruleset(name, self._definition)
        except Exception as exc:  # durable raises its own RulesError
            raise EngineError(f"durable-rules refused the compiled rule set: {exc}") from exc
        _rulesets_built += 1
        _live.add(self._handle)
        self._finalizer = weakref.finalize(self, _bury, self._handle, os.getpid())
        self._pid = os.getpid()
        self.leaked_states = 0
        self.sid = f"s{next(self._sessions)}"

    def match(self, fact: dict[str, object]) -> list[str]:
        """Return the engine rule names that fire for ``fact``; call with ENGINE_LOCK held."""
        if self._pid != os.getpid():
            # A forked child: the parent's ruleset is not ours to free or use.
            if self._finalizer is not None:
                self._finalizer.detach()
                self._finalizer = None
            self._build()
        elif self.leaked_states >= MAX_LEAKED_STATES:
            # A poisoned engine: start from a fresh ruleset.
            self._build()
        fact["sid"] = self.sid
        return self._evaluate(_FACT_JSON.encode(fact))

    def _evaluate(self, payload: str) -> list[str]:
        try:
            result, state = _engine.assert_fact(self._handle, payload)
            if result != 0:
                raise EngineError(f"unexpected engine result code {result}")
            names = self._drain(state)
            retracted, _ = _engine.retract_fact(self._handle, payload)
            if retracted != 0:
                raise EngineError(f"the fact could not be retracted (result code {retracted})")
        except Exception as exc:
            self._retire()
            raise EngineError(f"durable-rules failed to evaluate the fact: {exc}") from exc
        if EVICT_RULE not in names:
            self._retire()
            raise EngineError(
                "durable-rules did not run its catch-all rule; the result is unusable"
            )
        return names

    def _drain(self, state: int) -> list[str]:
        names: list[str] = []
        action = _engine.start_action_for_state(self._handle, state)
        while action is not None:
            message = action[1] if isinstance(action, tuple) else action
            # The action is {"<rule name>": {"m": <the whole fact>}}: read its first key
            # (the first string in it) only, instead of parsing the whole fact back.
            names.append(_JSON.raw_decode(message, message.index('"'))[0])
            action = _engine.complete_and_start_action(self._handle, state)
        return names

    def _retire(self) -> None:
        """Delete the current session safely and move to a fresh one."""
        sid, self.sid = self.sid, f"s{next(self._sessions)}"
        try:
            # The clean-up fact fires the catch-all rule: an action has run, so
            # delete_state is safe.
            result, state = _engine.assert_fact(
                self._handle, json.dumps({"sid": sid, "id": f"evict-{sid}", MARKER: 1})
            )
            if result == 0 and EVICT_RULE in self._drain(state):
                _engine.delete_state(self._handle, sid)
                return
        except Exception:
            log.exception("could not clean up engine session %s", sid)
        self.leaked_states += 1

    def live_facts(self) -> int:
        """Return how many facts the session holds; call with ENGINE_LOCK held."""
        return len(json.loads(_engine.get_facts(self._handle, self.sid)))

    def has_state(self, sid: str) -> bool:
        """Tell whether the ruleset holds a session ``sid``; call with ENGINE_LOCK held."""
        try:
            _engine.get_state(self._handle, sid)
        except Exception:
            return False
        return True

    def close(self) -> None:
        """Free the ruleset now; call with ENGINE_LOCK held."""
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None
        self._handle = -1


class DurableEngine:
    """One compiled rule-set revision loaded into durable-rules, one ruleset per partition.

    A fact runs only the partitions that can match it: those holding rules
    for its value of the routing key, and those whose rules do not test it.
    """

    def __init__(self, compiled: CompiledRuleSet) -> None:
        self.compiled = compiled
        parts = compiled.partitions or (Partition(compiled.definition, None),)
        self._always: list[_Ruleset] = []
        self._routed: dict[object, list[_Ruleset]] = {}
        with ENGINE_LOCK:
            _free_buried()
            self._rulesets = [_Ruleset(compiled.revision, p.definition) for p in parts]
        for part, ruleset in zip(parts, self._rulesets, strict=True):
            if part.route_values is None:
                self._always.append(ruleset)
            else:
                for value in part.route_values:
                    self._routed.setdefault(value, []).append(ruleset)

    @property
    def sid(self) -> str:
        """Return the live session of the first ruleset (used by the tests)."""
        return self._rulesets[0].sid

    @property
    def leaked_states(self) -> int:
        """Return how many sessions could not be cleaned up, over every ruleset."""
        return sum(r.leaked_states for r in self._rulesets)

    def _selected(self, fact: dict[str, object]) -> list[_Ruleset]:
        key = self.compiled.route_key
        if key is None:
            return self._rulesets
        value = fact.get(key)
        if value is None:
            return self._always
        return self._always + self._routed.get(value, [])

    def match(self, facts: Facts) -> frozenset[str]:
        """Return the ids of every rule whose condition holds for ``facts``."""
        fact = engine_fact(self.compiled, facts, "")
        names: list[str] = []
        with ENGINE_LOCK:
            _free_buried()
            for ruleset in self._selected(fact):
                names.extend(ruleset.match(fact))
        rules = self.compiled.engine_rules
        return frozenset(rules[name] for name in names if name != EVICT_RULE)

    def live_facts(self) -> int:
        """Return how many facts the engine holds in its sessions (used by the tests)."""
        with ENGINE_LOCK:
            return sum(r.live_facts() for r in self._rulesets)

    def has_state(self, sid: str) -> bool:
        """Tell whether any ruleset of the engine holds a session ``sid`` (used by the tests)."""
        with ENGINE_LOCK:
            return any(r.has_state(sid) for r in self._rulesets)

    def close(self) -> None:
        """Free the engine's rulesets now; only when no evaluation can still use them.

        Engines nobody references are freed without this, at the next engine call.
        """
        with ENGINE_LOCK:
            for ruleset in self._rulesets:
                ruleset.close()
            _free_buried()
