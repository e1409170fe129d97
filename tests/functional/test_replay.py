"""Replay a candidate rule set against a history stored through the real ingest path."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from schemas.api import EventV1Schema
from service.cases.model import AgentProfile
from service.cli import main
from service.decide import Decision, evaluate
from service.engine.catalog import EVENT_TYPES
from service.engine.model import AgentLimits
from service.ingest import ingest
from service.policy import Policy, build_policy
from service.replay import replay, replay_window
from service.store import codec
from service.store import repository as repo
from service.store.db import create_engine, migrate
from service.store.repository import Store
from service.store.schema import events
from tests.support.databases import BACKENDS, database_url
from tests.support.events import at, body

ROOT = Path(__file__).resolve().parents[2]
EVENT_V1 = EventV1Schema()


def _history() -> list[tuple[str, dict[str, Any]]]:
    """Return a few dozen events over five cases, three customers and three agents."""
    plain = {"customer": {"id": "cus-1"}, "agent": {"id": "ag-1"}}
    angry = {"customer": {"id": "cus-2", "tier": "key_account"}, "agent": {"id": "ag-2"}}
    third = {"customer": {"id": "cus-3"}, "agent": {"id": "ag-3"}}
    return [
        # cus-1: three complaints in three cases, the third one escalates.
        ("C-1", body(type="complaint_opened", channel="email", occurred_at=at(0), **plain)),
        ("C-1", body(text="Where is my parcel?", language="en", occurred_at=at(5), **plain)),
        ("C-1", body(attributes={"hostility": 2}, occurred_at=at(10), **plain)),
        ("C-1", body(attributes={"hostility": 4}, occurred_at=at(12), **plain)),
        ("C-1", body(attributes={"hostility": 5}, occurred_at=at(50), **plain)),
        (
            "C-1",
            body(
                text="This is a joke, I want to speak to your manager right now",
                language="en",
                occurred_at=at(52),
                **plain,
            ),
        ),
        ("C-2", body(type="complaint_opened", channel="email", occurred_at=at(60), **plain)),
        ("C-2", body(type="agent_note", channel=None, occurred_at=at(61), **plain)),
        ("C-3", body(type="complaint_opened", channel="email", occurred_at=at(90), **plain)),
        ("C-3", body(attributes={"complexity": 5}, occurred_at=at(95), **plain)),
        ("C-3", body(type="complaint_resolved", channel="email", occurred_at=at(120), **plain)),
        # cus-2: a key account, hostile, with an agent who has personal limits.
        ("C-4", body(text="Hello, my invoice is wrong.", occurred_at=at(0), **angry)),
        ("C-4", body(attributes={"hostility": 4}, occurred_at=at(3), **angry)),
        ("C-4", body(attributes={"hostility": 7}, occurred_at=at(6), **angry)),
        (
            "C-4",
            body(
                text="You are useless idiots, I will sue you and my lawyer will hear of this",
                language="en",
                occurred_at=at(8),
                **angry,
            ),
        ),
        ("C-4", body(attributes={"handling_minutes": 30}, occurred_at=at(40), **angry)),
        ("C-4", body(type="supervisor_requested", occurred_at=at(200), **angry)),
        (
            "C-4",
            body(
                type="agent_limit_reached",
                attributes={"limit": "hostility"},
                occurred_at=at(210),
                **angry,
            ),
        ),
        ("C-4", body(type="case_closed", channel=None, occurred_at=at(300), **angry)),
        # cus-3: complexity and time, another agent without a profile.
        ("C-5", body(attributes={"complexity": 2, "topic": "billing"}, occurred_at=at(0), **third)),
        ("C-5", body(attributes={"complexity": 4}, occurred_at=at(5), **third)),
        ("C-5", body(attributes={"hostility": 4}, occurred_at=at(7), **third)),
        ("C-5", body(attributes={"handling_minutes": 50}, occurred_at=at(9), **third)),
        (
            "C-5",
            body(
                type="agent_limit_reached",
                attributes={"limit": "complexity"},
                occurred_at=at(11),
                **third,
            ),
        ),
        ("C-5", body(type="complaint_opened", channel="phone", occurred_at=at(20), **third)),
        ("C-5", body(type="complaint_reopened", channel="phone", occurred_at=at(400), **third)),
        ("C-5", body(text="Danke, alles gut.", language="de", occurred_at=at(500), **third)),
        # C-6: no customer and no agent named.
        ("C-6", body(customer=None, agent=None, attributes={"hostility": 5}, occurred_at=at(1))),
        ("C-6", body(customer=None, agent=None, type="agent_note", occurred_at=at(2))),
    ]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Return a migrated, empty store on a SQLite file or a PostgreSQL schema."""
    engine = create_engine(database_url(request.param, tmp_path, request))
    migrate(engine, tmp_path / "migrate.lock")
    yield Store(engine)
    engine.dispose()


@pytest.fixture
def history(store: Store, policy: Policy) -> list[tuple[str, dict[str, Any]]]:
    """Store the history through the real ingest path, with the bundled rules."""
    with store.write() as conn:
        now = datetime.now(UTC)
        repo.put_agent(conn, AgentProfile("ag-2", AgentLimits(4, 6, 30), ("billing",)), now)
    stored = _history()
    for case_id, event in stored:
        ingest(store, policy, case_id, EVENT_V1.load(event), event)
    return stored


def _candidate(tmp_path: Path, name: str, edit: dict[str, tuple[str, str]] | None = None,
               extra: dict[str, str] | None = None) -> Policy:
    """Return a policy built from a copy of rules/ with text replaced or files added."""
    rules = tmp_path / name / "rules"  # the revision hashes paths from rules/ on
    shutil.copytree(ROOT / "rules", rules)
    for file, (old, new) in (edit or {}).items():
        text = (rules / file).read_text(encoding="utf-8")
        assert old in text, f"{old!r} is not in {file}"
        (rules / file).write_text(text.replace(old, new, 1), encoding="utf-8")
    for file, text in (extra or {}).items():
        (rules / file).write_text(text, encoding="utf-8")
    return build_policy(rules)


def _raised_hostility(tmp_path: Path) -> Policy:
    return _candidate(
        tmp_path, "raised", {"defaults.yaml": ("max_hostility: 3", "max_hostility: 6")}
    )


def _verdict(decision: Decision) -> dict[str, Any]:
    return {
        "outcome": decision.outcome,
        "escalations": sorted((e.to, e.mode) for e in decision.escalations),
        "route_to": decision.route_to,
        "priority": decision.priority,
        "matched": sorted({m.rule.id for m in decision.matched}),
    }


def _stored_rows(store: Store) -> list[Any]:
    with store.read() as conn:
        return list(conn.execute(sa.select(events).order_by(events.c.seq)))


def _decide(policy: Policy, row: Any) -> dict[str, Any]:
    evaluation = evaluate(
        policy,
        codec.snapshot_from_json(row.snapshot),
        EVENT_V1.load(row.event),
        case_id=row.case_id,
    )
    return _verdict(evaluation.decision)


def test_ingest_records_the_state_each_event_was_decided_from(
    store: Store, history: list[tuple[str, dict[str, Any]]]
) -> None:
    rows = _stored_rows(store)

    assert len(rows) == len(history)
    assert all(row.snapshot is not None for row in rows)
    first, second = (codec.snapshot_from_json(r.snapshot) for r in rows[:2])
    assert first.case.messages == 0  # the state before the first event of C-1
    assert second.case.open_complaints == 1  # ... and before the second: one complaint open
    assert second.customer.unresolved_complaint_refs[0].case_id == "C-1"
    ag2 = next(codec.snapshot_from_json(r.snapshot) for r in rows if r.case_id == "C-4")
    assert ag2.agent.limits == AgentLimits(4, 6, 30)


def test_a_raised_threshold_reports_exactly_the_decisions_it_changes(
    store: Store, history: list[tuple[str, dict[str, Any]]], policy: Policy, tmp_path: Path
) -> None:
    candidate = _raised_hostility(tmp_path)
    rows = _stored_rows(store)
    expected = {
        row.event_id: (_decide(policy, row), _decide(candidate, row))
        for row in rows
        if _decide(policy, row) != _decide(candidate, row)
    }

    report = replay_window(store, candidate).as_dict()

    # The hostility 4 and 5 messages of C-1 (agent without limits) no longer escalate.
    assert {history[3][1]["event_id"], history[4][1]["event_id"]} <= expected.keys()
    assert report["events"] == len(rows)
    assert report["skipped"] == 0
    assert report["changed"] == len(expected)
    examples = {e["event_id"]: e for e in report["examples"]}
    assert examples.keys() == expected.keys()
    for event_id, (before, after) in expected.items():
        for side, verdict in (("before", before), ("after", after)):
            shown = examples[event_id][side]
            assert shown["outcome"] == verdict["outcome"]
            assert [(e["to"], e["mode"]) for e in shown["escalations"]] == verdict["escalations"]
            assert shown["route_to"] == verdict["route_to"]
            assert shown["priority"] == verdict["priority"]
            assert shown["matched_rules"] == verdict["matched"]
    assert report["by_rule"]["hostility-over-agent-limit"]["fires_less"] == sum(
        "hostility-over-agent-limit" in b["matched"] and "hostility-over-agent-limit" not in a["matched"]
        for b, a in expected.values()
    )
    assert report["by_rule"]["hostility-over-agent-limit"]["fires_more"] == 0
    transitions: dict[str, int] = {}
    for before, after in expected.values():
        key = f"{before['outcome']} -> {after['outcome']}"
        transitions[key] = transitions.get(key, 0) + 1
    assert report["by_outcome"] == transitions
    escalated = [
        (_decide(policy, r)["outcome"] == "escalate", _decide(candidate, r)["outcome"] == "escalate")
        for r in rows
    ]
    assert report["escalation_rate"] == {
        "before": sum(b for b, _ in escalated) / len(rows),
        "after": sum(a for _, a in escalated) / len(rows),
    }
    assert report["escalation_rate"]["after"] < report["escalation_rate"]["before"]


def test_the_same_rules_change_nothing(
    store: Store, history: list[tuple[str, dict[str, Any]]], policy: Policy, tmp_path: Path
) -> None:
    same = _candidate(tmp_path, "same")  # a fresh build of the same files

    recorded = replay_window(store, same)
    decided_again = replay_window(store, same, _raised_hostility(tmp_path))
    against_itself = replay_window(store, same, _candidate(tmp_path, "again"))

    assert same.revision == policy.revision
    assert (recorded.events, recorded.changed, recorded.examples) == (len(history), 0, ())
    assert recorded.escalated_before == recorded.escalated_after > 0
    assert decided_again.changed > 0  # a baseline of other rules is decided, not read
    assert against_itself.changed == 0


def test_a_candidate_escalating_everything_escalates_every_event(
    store: Store, history: list[tuple[str, dict[str, Any]]], tmp_path: Path
) -> None:
    rule = f"""
rules:
  - id: escalate-everything
    title: Escalate every event
    description: A test rule that matches every event.
    priority: 1
    when:
      event.type: {{in: [{", ".join(EVENT_TYPES)}]}}
    then:
      escalate: {{to: audit-desk, mode: notify}}
"""
    candidate = _candidate(tmp_path, "everything", extra={"everything.yaml": rule})

    report = replay_window(store, candidate).as_dict()

    assert report["escalation_rate"]["after"] == 1.0
    assert report["escalation_rate"]["before"] < 1.0
    assert report["changed"] == len(history)
    assert report["by_rule"]["escalate-everything"] == {"fires_more": len(history), "fires_less": 0}
    assert all(
        {"to": "audit-desk", "mode": "notify"} in e["after"]["escalations"]
        for e in report["examples"]
    )


def test_events_without_a_recorded_state_are_skipped_and_counted(
    store: Store, history: list[tuple[str, dict[str, Any]]], tmp_path: Path
) -> None:
    legacy = [event["event_id"] for case_id, event in history if case_id == "C-4"]
    with store.write() as conn:
        conn.execute(events.update().where(events.c.event_id.in_(legacy)).values(snapshot=None))

    report = replay_window(store, _raised_hostility(tmp_path))

    assert report.skipped == len(legacy)
    assert report.events == len(history) - len(legacy)
    assert not {c.event_id for c in report.examples} & set(legacy)


def test_the_window_is_the_newest_events_received_in_it_oldest_first(
    store: Store, history: list[tuple[str, dict[str, Any]]]
) -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    with store.write() as conn:
        seqs = list(conn.execute(sa.select(events.c.seq).order_by(events.c.seq)).scalars())
        for index, seq in enumerate(seqs):
            conn.execute(
                events.update()
                .where(events.c.seq == seq)
                .values(received_at=start + timedelta(hours=index))
            )

    with store.read() as conn:
        everything = [e.seq for e in repo.events_for_replay(conn)]
        window = [
            e.seq
            for e in repo.events_for_replay(
                conn, since=start + timedelta(hours=5), until=start + timedelta(hours=15)
            )
        ]
        newest = [e.seq for e in repo.events_for_replay(conn, until=start + timedelta(hours=15), limit=4)]
        counted = repo.count_for_replay(conn, since=start + timedelta(hours=5), limit=4)
        first = next(iter(repo.events_for_replay(conn, limit=len(seqs) + 10)))

    assert everything == seqs
    assert window == seqs[5:15]
    assert newest == seqs[11:15]
    assert counted == 4
    assert first.event_id == history[0][1]["event_id"]
    assert first.event.text is None
    assert first.snapshot is not None


def test_the_cli_json_is_the_report_of_replay(
    store: Store,
    history: list[tuple[str, dict[str, Any]]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    candidate = _raised_hostility(tmp_path)
    url = store.engine.url.render_as_string(hide_password=False)

    status = main(["replay", "--rules", str(tmp_path / "raised" / "rules"), "--database", url, "--json"])
    printed = json.loads(capsys.readouterr().out)

    with store.read() as conn:
        expected = replay(repo.events_for_replay(conn), candidate).as_dict()
    assert status == 0
    assert printed == json.loads(json.dumps(expected))
    assert printed["changed"] > 0
    texts = [e["text"] for _, e in history if e.get("text")]
    assert not any(text in json.dumps(printed) for text in texts)


def test_the_cli_prints_counts_rates_and_both_decisions(
    store: Store,
    history: list[tuple[str, dict[str, Any]]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _raised_hostility(tmp_path)
    url = store.engine.url.render_as_string(hide_password=False)

    status = main(
        ["replay", "--rules", str(tmp_path / "raised" / "rules"), "--database", url, "--baseline", str(ROOT / "rules")]
    )
    out = capsys.readouterr()

    assert status == 0
    assert f"{len(history)} events replayed" in out.out
    assert "hostility-over-agent-limit" in out.out
    assert "escalate -> " in out.out
    assert "before: escalate" in out.out
    assert "after:  " in out.out
    assert out.err == ""  # no progress line where standard error is not a terminal
    texts = [e["text"] for _, e in history if e.get("text")]
    assert not any(text in out.out for text in texts)


def test_the_cli_refuses_invalid_rules_and_bad_times(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(ROOT / "rules", broken)
    (broken / "limits.yaml").write_text(
        (broken / "limits.yaml").read_text().replace("{gt: agent.limits.max_complexity}", "{gtee: 3}")
    )
    database = f"sqlite:///{tmp_path / 'none.db'}"

    invalid = main(["replay", "--rules", str(broken), "--database", database])
    problems = capsys.readouterr().err
    with pytest.raises(SystemExit) as bad_time:
        main(["replay", "--since", "last tuesday", "--database", database])
    message = capsys.readouterr().err

    assert invalid == 1
    assert "problem(s)" in problems
    assert "limits.yaml" in problems
    assert bad_time.value.code == 2
    assert "'last tuesday' is not an ISO 8601 date or timestamp" in message


def test_the_cli_says_when_the_database_records_no_states(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate(engine, tmp_path / "lock", revision="0002")
    engine.dispose()

    status = main(["replay", "--database", f"sqlite:///{tmp_path / 'old.db'}"])

    assert status == 1
    assert "escalation migrate" in capsys.readouterr().err


def test_examples_are_the_first_changes_in_stored_order(
    store: Store, history: list[tuple[str, dict[str, Any]]], tmp_path: Path
) -> None:
    candidate = _raised_hostility(tmp_path)
    with store.read() as conn:
        full = replay(repo.events_for_replay(conn), candidate)
    with store.read() as conn:
        short = replay(repo.events_for_replay(conn), candidate, examples=3)

    assert full.changed > 3
    assert short.changed == full.changed
    assert short.examples == full.examples[:3]
    assert [c.seq for c in full.examples] == sorted(c.seq for c in full.examples)
