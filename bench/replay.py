"""Benchmark replay: 100,000 stored events decided again with the bundled rules and a candidate.

    .venv/bin/python bench/replay.py [--events 100000] [--seed 1] [--profile]

The first run stores the events through the real ingest path (decide, then
insert event, decision and state, one transaction per event) into a SQLite
file under the temporary directory, keyed by seed and size; that takes a few
minutes and later runs reuse it.  Then it replays the whole history three
ways and prints wall time and events/s for each:

* the bundled rules against the recorded decisions (nothing should change);
* a candidate raising one threshold (the default hostility limit, 3 -> 5);
* the same candidate against the bundled rules as a baseline from another
  directory, so both sides are decided again (the slowest case).

It prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event as sa_event  # noqa: E402

from schemas.api import EventV1Schema  # noqa: E402
from service.cases.model import AgentProfile  # noqa: E402
from service.engine.model import AgentLimits  # noqa: E402
from service.ingest import ingest  # noqa: E402
from service.policy import Policy, build_policy  # noqa: E402
from service.replay import ReplayReport, replay_window  # noqa: E402
from service.store import repository as repo  # noqa: E402
from service.store.db import create_engine, migrate  # noqa: E402
from service.store.repository import Store  # noqa: E402

RULES = ROOT / "rules"
START = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
EVENTS_PER_CASE = 10
CASES_PER_CUSTOMER = 3
AGENTS = 200

# Message texts as customers write them: mostly routine, some angry, a few
# threats or demands for a supervisor, in several languages.
TEXTS: list[tuple[str, str]] = [
    ("en", "Hello, my order has not arrived yet. Can you check where it is?"),
    ("en", "I was charged twice for the same invoice, please refund one of them."),
    ("en", "Thanks, that solved it."),
    ("en", "The app keeps logging me out every few minutes since the update."),
    ("en", "This is the third time I write about this and nobody answers."),
    ("en", "You are useless, this service is a joke."),
    ("en", "I want to speak to your manager right now."),
    ("en", "If this is not fixed by Friday my lawyer will contact you."),
    ("en", "Stupid idiots, you have no idea what you are doing."),
    ("de", "Guten Tag, meine Lieferung ist noch nicht angekommen."),
    ("de", "Ich möchte sofort mit Ihrem Vorgesetzten sprechen."),
    ("de", "Das ist eine Frechheit, ich schalte meinen Anwalt ein."),
    ("fr", "Bonjour, je n'ai toujours pas reçu ma commande."),
    ("fr", "Je veux parler à votre responsable immédiatement."),
    ("es", "Hola, todavía no he recibido mi pedido."),
    ("es", "Quiero hablar con su supervisor ahora mismo."),
    ("pl", "Dzień dobry, moje zamówienie jeszcze nie dotarło."),
    ("pl", "Chcę rozmawiać z kierownikiem."),
    ("pt", "Olá, o meu pedido ainda não chegou."),
    ("ru", "Здравствуйте, мой заказ до сих пор не пришёл."),
]
TEXT_WEIGHTS = [12, 10, 8, 8, 6, 3, 3, 2, 2, 6, 2, 1, 5, 2, 5, 2, 5, 2, 4, 3]
# Event types after the first event of a case, with their weights.
FOLLOW_UPS = [
    ("customer_message", 60),
    ("agent_note", 15),
    ("complaint_opened", 4),
    ("complaint_resolved", 3),
    ("complaint_reopened", 1),
    ("case_assigned", 4),
    ("callback_promised", 3),
    ("supervisor_requested", 2),
    ("agent_limit_reached", 2),
    ("case_closed", 6),
]
CHANNELS = ["chat", "chat", "email", "email", "phone", "social_media", "in_person"]
TOPICS = ["billing", "delivery", "account", "technical", "returns"]


def _bodies(count: int, rng: random.Random) -> list[tuple[str, dict[str, Any]]]:
    """Return ``count`` (case id, event body) pairs, interleaved across cases in time order."""
    cases = max(1, count // EVENTS_PER_CASE)
    timeline: list[tuple[datetime, str, dict[str, Any]]] = []
    types, weights = zip(*FOLLOW_UPS, strict=True)
    for case in range(cases):
        customer = f"cus-{case // CASES_PER_CUSTOMER}"
        tier = "key_account" if (case // CASES_PER_CUSTOMER) % 17 == 0 else "standard"
        agent = f"ag-{rng.randrange(AGENTS)}"
        channel = rng.choice(CHANNELS)
        moment = START + timedelta(minutes=rng.uniform(0, 60 * 24 * 30))
        n = EVENTS_PER_CASE if case < cases - 1 else count - EVENTS_PER_CASE * (cases - 1)
        for index in range(n):
            kind = "complaint_opened" if index == 0 and rng.random() < 0.2 else "customer_message"
            if index > 0:
                kind = rng.choices(types, weights)[0]
            if index > 0 and rng.random() < 0.05:
                agent = f"ag-{rng.randrange(AGENTS)}"
            moment += timedelta(minutes=rng.choice([1, 2, 3, 5, 8, 20, 90, 600]))
            body: dict[str, Any] = {
                "event_id": f"e-{case}-{index}",
                "type": kind,
                "occurred_at": moment.isoformat(),
                "channel": channel,
                "customer": {"id": customer, "tier": tier},
                "agent": {"id": agent},
            }
            attributes: dict[str, Any] = {}
            if kind == "customer_message":
                language, text = rng.choices(TEXTS, TEXT_WEIGHTS)[0]
                body.update(text=text, language=language)
            if index == 0:
                attributes["topic"] = rng.choice(TOPICS)
            if rng.random() < 0.15:
                attributes["hostility"] = rng.randrange(0, 8)
            if rng.random() < 0.1:
                attributes["complexity"] = rng.randrange(0, 8)
            if rng.random() < 0.1:
                attributes["handling_minutes"] = rng.randrange(1, 40)
            if kind == "agent_limit_reached":
                attributes["limit"] = rng.choice(["complexity", "hostility", "time"])
            if attributes:
                body["attributes"] = attributes
            timeline.append((moment, f"C-{case}", body))
    timeline.sort(key=lambda item: item[0])
    return [(case_id, body) for _, case_id, body in timeline]


def _fast_writes(engine: Any) -> None:
    # A throw-away benchmark database need not survive a power cut: skipping
    # fsync on every commit makes building it minutes shorter.
    @sa_event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA synchronous=OFF")


def build(path: Path, count: int, seed: int, policy: Policy) -> None:
    """Store ``count`` events through the real ingest path into a new SQLite file at ``path``."""
    partial = path.with_name(path.name + ".partial")
    for leftover in path.parent.glob(partial.name + "*"):
        leftover.unlink()
    engine = create_engine(f"sqlite:///{partial}")
    _fast_writes(engine)
    migrate(engine, path.parent / "migrate.lock")
    store = Store(engine)
    rng = random.Random(seed)
    with store.write() as conn:
        for index in range(AGENTS):
            limits = None
            if index % 2:
                low, high, minutes = rng.randrange(2, 7), rng.randrange(2, 7), rng.randrange(20, 90)
                limits = AgentLimits(low, high, minutes)
            repo.put_agent(conn, AgentProfile(f"ag-{index}", limits, ("billing",)), START)
    schema = EventV1Schema()
    started = time.perf_counter()
    bodies = _bodies(count, rng)
    for done, (case_id, body) in enumerate(bodies, 1):
        ingest(store, policy, case_id, schema.load(body), body)
        if done % 5000 == 0 or done == count:
            rate = done / (time.perf_counter() - started)
            print(f"\r  stored {done:,} of {count:,} events ({rate:,.0f}/s)", end="", flush=True)
    print()
    engine.dispose()
    partial.rename(path)
    for wal in path.parent.glob(partial.name + "-*"):
        wal.unlink()


def raised_threshold(into: Path) -> Policy:
    """Return the bundled rules with the default hostility limit raised from 3 to 5."""
    rules = into / "rules"  # the revision hashes paths from rules/ on
    if rules.exists():
        shutil.rmtree(rules)
    shutil.copytree(RULES, rules)
    defaults = rules / "defaults.yaml"
    text = defaults.read_text(encoding="utf-8")
    assert "max_hostility: 3" in text
    defaults.write_text(text.replace("max_hostility: 3", "max_hostility: 5"), encoding="utf-8")
    return build_policy(rules)


def measure(
    name: str, store: Store, candidate: Policy, baseline: Policy | None, profile: bool
) -> ReplayReport:
    """Replay every stored event once and print the figures."""
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    report = replay_window(store, candidate, baseline)
    if profiler:
        profiler.disable()
    wall = time.perf_counter() - started
    total = report.events + report.skipped
    rate_before, rate_after = report.escalation_rate
    print(
        f"{name:<50} {total:>8,} events  {wall:6.1f} s  {total / wall:>8,.0f} events/s  "
        f"changed {report.changed:>6,}  escalation {rate_before:.1%} -> {rate_after:.1%}"
    )
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return report


def main() -> None:
    """Build (or reuse) the database, then replay it three ways."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of each replay")
    parser.add_argument(
        "--only", choices=["recorded", "candidate", "baseline"], help="run one of the replays"
    )
    args = parser.parse_args()

    policy = build_policy(RULES)
    folder = Path(tempfile.gettempdir()) / f"escalation-bench-replay-{args.seed}-{args.events}"
    folder.mkdir(exist_ok=True)
    database = folder / f"{policy.revision[7:19]}.db"
    if not database.exists():
        print(f"building {database} (once for this seed, size and rule revision)")
        build(database, args.events, args.seed, policy)
    store = Store(create_engine(f"sqlite:///{database}"))
    candidate = raised_threshold(folder / "raised")
    # The same files under another directory name: another revision, so the
    # baseline decides every event again instead of reading the recorded decision.
    copy = folder / "bundled" / "rules-copy"
    if not copy.exists():
        shutil.copytree(RULES, copy)
    bundled_copy = build_policy(copy)
    runs = {
        "recorded": ("bundled rules vs recorded", policy, None),
        "candidate": ("hostility limit 3 -> 5 vs recorded", candidate, None),
        "baseline": ("hostility limit 3 -> 5 vs bundled (both decided)", candidate, bundled_copy),
    }
    for key, (name, chosen, baseline) in runs.items():
        if args.only in (None, key):
            measure(name, store, chosen, baseline, args.profile)
    store.engine.dispose()


if __name__ == "__main__":
    main()
