"""One regression test per durable-rules hazard that applies to our use (docs/durable-rules.md).

Tests whose failure mode is a crash or an endless loop run in a child process
with a time limit, so a regression fails the test instead of the test run.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from service.engine import durable_backend
from service.engine.compiler import compile_ruleset
from service.engine.durable_backend import DurableEngine, EngineError
from service.engine.model import AllOf, AnyOf, FieldRef, NotOf, Predicate, Then
from tests.factories import rule, ruleset

ROOT = Path(__file__).resolve().parents[3]


def run_isolated(code: str, timeout: float = 120) -> str:
    """Run Python code in a child process; fail with its output unless it exits cleanly."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def engine_for(*rules):  # type: ignore[no-untyped-def]
    return DurableEngine(compile_ruleset(ruleset(*rules)))


BASE = {
    "event.type": "customer_message",
    "case.hostility": 4,
    "agent.limits.max_hostility": 3,
    "customer.flags": (),
    "signals": (),
}


def test_every_matching_rule_fires_not_only_the_first() -> None:
    # durable consumes a posted event with the first matching rule; we assert facts.
    rules = [rule(f"r{i}", Predicate("case.hostility", "gte", i)) for i in range(10)]
    engine = engine_for(*rules)

    assert engine.match(BASE) == {"r0", "r1", "r2", "r3", "r4"}


def test_a_rule_with_two_true_alternatives_is_reported_once() -> None:
    # durable fires a rule once per true $or branch.
    engine = engine_for(
        rule(
            "either",
            AnyOf((Predicate("case.hostility", "gte", 1), Predicate("case.hostility", "gte", 2))),
        ),
        rule(
            "any",
            NotOf(
                AllOf(
                    (
                        Predicate("case.hostility", "lt", 1),
                        Predicate("signals", "contains", "abuse"),
                    )
                )
            ),
        ),
    )

    assert engine.match(BASE) == {"either", "any"}


def test_engine_failure_is_an_error_never_an_empty_decision(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = engine_for(rule("hot", Predicate("case.hostility", "gte", 1)))
    real = durable_backend.engine_fact

    def oversized(compiled, facts, sid):  # type: ignore[no-untyped-def]
        fact = real(compiled, facts, sid)
        fact.update({f"extra{i}": i for i in range(300)})  # durable's limit is 253 keys
        return fact

    engine.match(BASE)
    failed_session = engine.sid
    monkeypatch.setattr(durable_backend, "engine_fact", oversized)
    with pytest.raises(EngineError):
        engine.match(BASE)
    monkeypatch.setattr(durable_backend, "engine_fact", real)

    # The failed session was deleted safely and a fresh one took its place.
    assert engine.sid != failed_session
    assert not engine.has_state(failed_session)
    assert engine.match(BASE) == {"hot"}
    assert engine.leaked_states == 0


def test_no_fact_outlives_an_evaluation() -> None:
    engine = engine_for(rule("hot", Predicate("case.hostility", "gte", 1)))
    for _ in range(50):
        engine.match(BASE)
        engine.match({**BASE, "case.hostility": 0})

    assert engine.live_facts() == 0
    assert engine.sid == "s0"  # one session for every evaluation: far from the 1,024 cap


def test_state_of_one_evaluation_never_reaches_the_next() -> None:
    engine = engine_for(
        rule("hot", Predicate("case.hostility", "gte", 4)),
        rule("cold", Predicate("case.hostility", "lt", 1)),
    )

    assert engine.match(BASE) == {"hot"}
    assert engine.match({**BASE, "case.hostility": 0}) == {"cold"}
    assert engine.match(BASE) == {"hot"}
    assert engine.match(BASE) == {"hot"}  # the same fact twice is not "already observed"


@pytest.mark.slow
def test_more_evaluations_than_the_live_sid_cap() -> None:
    # durable holds at most 1,024 live sids per ruleset, then MemoryError, then a segfault.
    out = run_isolated(
        """
        from service.engine.compiler import compile_ruleset
        from service.engine.durable_backend import DurableEngine
        from service.engine.model import Predicate
        from tests.factories import rule, ruleset
        engine = DurableEngine(compile_ruleset(ruleset(rule("hot", Predicate("case.hostility", "gte", 2)))))
        facts = {"case.hostility": 3}
        hits = sum(1 for _ in range(5000) if engine.match(facts) == {"hot"})
        print(hits, engine.leaked_states)
        """
    )
    assert out.split() == ["5000", "0"]


def test_evaluations_that_match_no_rule_are_safe() -> None:
    # A fact that no rule matches still fires the catch-all rule, so the engine
    # never reports "not handled" and a session can always be deleted safely.
    engine = engine_for(rule("hot", Predicate("case.hostility", "gte", 9)))

    assert all(engine.match({"case.hostility": 1}) == frozenset() for _ in range(500))
    assert engine.live_facts() == 0


@pytest.mark.slow
def test_retiring_sessions_after_failures_never_crashes() -> None:
    # delete_state segfaults for a state where no action ran; every retired
    # session first fires the catch-all rule.  2,000 failures also pass the
    # 1,024-session cap if retired sessions were not deleted.
    out = run_isolated(
        """
        from service.engine import durable_backend
        from service.engine.compiler import compile_ruleset
        from service.engine.durable_backend import DurableEngine, EngineError
        from service.engine.model import Predicate
        from tests.factories import rule, ruleset
        engine = DurableEngine(compile_ruleset(ruleset(rule("hot", Predicate("case.hostility", "gte", 2)))))
        real = durable_backend.engine_fact
        def oversized(compiled, facts, sid):
            fact = real(compiled, facts, sid)
            fact.update({f"x{i}": i for i in range(300)})
            return fact
        durable_backend.engine_fact = oversized
        failures = 0
        for _ in range(2000):
            try:
                engine.match({"case.hostility": 3})
            except EngineError:
                failures += 1
        durable_backend.engine_fact = real
        print(failures, engine.leaked_states, sorted(engine.match({"case.hostility": 3})))
        print(any(engine.has_state(f"s{n}") for n in range(2000)))
        """
    )
    assert out.split() == ["2000", "0", "['hot']", "False"]


@pytest.mark.slow
def test_exists_false_never_loops() -> None:
    # A $nex condition matches durable's own state document and loops forever once any
    # other rule fires; the compiler never emits $nex.
    out = run_isolated(
        """
        from service.engine.compiler import compile_ruleset
        from service.engine.durable_backend import DurableEngine
        from service.engine.model import Predicate
        from tests.factories import rule, ruleset
        compiled = compile_ruleset(ruleset(
            rule("no-channel", Predicate("event.channel", "exists", False)),
            rule("hot", Predicate("case.hostility", "gte", 1)),
        ))
        assert "$nex" not in str(compiled.definition)
        engine = DurableEngine(compiled)
        print(sorted(engine.match({"case.hostility": 2})))
        """,
    )
    assert out.strip() == "['hot', 'no-channel']"


def test_a_missing_right_hand_field_does_not_match() -> None:
    # durable treats a missing $m operand as a match.
    engine = engine_for(
        rule("over", Predicate("case.hostility", "gte", FieldRef("event.attributes.complexity")))
    )

    assert engine.match(BASE) == frozenset()
    assert engine.match({**BASE, "event.attributes.complexity": 2}) == {"over"}
    assert engine.match({**BASE, "event.attributes.complexity": 9}) == frozenset()


def test_values_of_the_wrong_type_are_not_coerced() -> None:
    # durable matches 1 against true and "4" against 3.
    engine = engine_for(
        rule("flag", Predicate("event.attributes.vip", "eq", True)),
        rule("big", Predicate("event.attributes.score", "gte", 3)),
    )

    assert (
        engine.match({**BASE, "event.attributes.vip": 1, "event.attributes.score": "4"})
        == frozenset()
    )
    assert engine.match({**BASE, "event.attributes.vip": True, "event.attributes.score": 4}) == {
        "flag",
        "big",
    }


def test_text_is_never_matched_by_the_engine_regex() -> None:
    # durable's $imt is ASCII-only and its DFA misses self-overlapping words.
    compiled = compile_ruleset(
        ruleset(
            rule("abab", Predicate("event.text", "contains", "aba")),
            rule("polish", Predicate("event.text", "contains", "CHCĘ ROZMAWIAĆ Z KIEROWNIK")),
        )
    )
    engine = DurableEngine(compiled)

    assert "$mt" not in json.dumps(compiled.definition)
    assert "$imt" not in json.dumps(compiled.definition)
    assert engine.match({**BASE, "event.text": "xabab"}) == {"abab"}
    assert engine.match({**BASE, "event.text": "chcę rozmawiać z kierownikiem"}) == {"polish"}


def test_the_compiled_definition_is_not_mutated() -> None:
    compiled = compile_ruleset(ruleset(rule("hot", Predicate("case.hostility", "gte", 1))))
    before = copy.deepcopy(compiled.definition)

    first, second = DurableEngine(compiled), DurableEngine(compiled)

    assert compiled.definition == before
    assert first.match(BASE) == second.match(BASE) == {"hot"}


def test_concurrent_threads_get_correct_results() -> None:
    # The C extension has no lock; without ours, threads lose results and crash.
    engine = engine_for(
        rule("hot", Predicate("case.hostility", "gte", 4)),
        rule("cold", Predicate("case.hostility", "lt", 4)),
    )
    errors: list[str] = []

    def work(level: int) -> None:
        expected = {"hot"} if level >= 4 else {"cold"}
        for _ in range(300):
            got = engine.match({**BASE, "case.hostility": level})
            if got != expected:
                errors.append(f"{level}: {got}")

    threads = [threading.Thread(target=work, args=(n % 8,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []


def test_building_engines_starts_no_threads() -> None:
    # durable's Host starts timer threads that race with callers; we never create one.
    before = threading.active_count()
    engines = [engine_for(rule(f"r{i}", Predicate("case.hostility", "gte", i))) for i in range(3)]

    assert threading.active_count() == before
    assert all(e.match(BASE) for e in engines)


def test_a_forked_worker_rebuilds_its_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = engine_for(rule("hot", Predicate("case.hostility", "gte", 1)))
    handle = engine._rulesets[0]._handle
    monkeypatch.setattr(durable_backend.os, "getpid", lambda: -42)

    assert engine.match(BASE) == {"hot"}
    assert engine._rulesets[0]._handle != handle


def test_rule_results_do_not_depend_on_then() -> None:
    engine = engine_for(
        rule("a", Predicate("case.hostility", "gte", 1), Then(route_to="x")),
        rule("b", Predicate("case.hostility", "gte", 1), Then(priority="high")),
    )

    assert engine.match(BASE) == {"a", "b"}
