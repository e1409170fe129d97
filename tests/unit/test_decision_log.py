"""Decision-log records: message text, matched words and free attribute values by text policy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.decision_log import DecisionLog, record
from service.masking import Readable, TextPolicy, digest

TEXT = "I will come to your shop tomorrow and smash it"
EVIDENCE = "come to your shop tomorrow and smash"
READABLE = Readable(numbers=frozenset({"complexity"}), choices={"limit": frozenset({"time"})})


def decision() -> dict[str, Any]:
    return {
        "decision_id": "d-1",
        "evaluated_at": "2026-11-30T10:00:00+00:00",
        "case_id": "C-1",
        "event_id": "e-1",
        "outcome": "escalate",
        "rules_revision": "sha256:x",
        "duration_ms": 1.0,
        "signals": [
            {
                "name": "physical_threat",
                "language": "en",
                "evidence": EVIDENCE,
                "entry": "come to your ... and smash",
                "source": "rules/lexicons/en/physical_threat.yaml:12",
                "span": [7, 43],
            }
        ],
        "matched_rules": [
            {
                "id": "physical-threat",
                "why": "signal physical_threat (en) matched entry 'come to your ... and smash'",
            }
        ],
    }


def event(**overrides: Any) -> dict[str, Any]:
    return {
        "event_id": "e-1",
        "type": "customer_message",
        "occurred_at": "2026-11-30T10:00:00Z",
        "text": TEXT,
        "attributes": {"complexity": 3, "limit": "time", "order_note": "ring twice"},
        **overrides,
    }


def line(policy: TextPolicy, **kwargs: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"caller": "t", "customer_id": "cus-1", "dry_run": False}
    values.update(kwargs)
    return record(decision(), values.pop("event", event()), policy=policy, readable=READABLE, **values)


def test_hash_shows_lengths_and_hashes_of_text_evidence_and_free_attributes() -> None:
    entry = line(TextPolicy.HASH)

    assert entry["input"]["text"] == digest(TEXT)
    assert entry["input"]["attributes"] == {
        "complexity": 3,
        "limit": "time",
        "order_note": digest("ring twice"),
    }
    (signal,) = entry["signals"]
    assert signal == {
        "name": "physical_threat",
        "language": "en",
        "entry": "come to your ... and smash",
        "source": "rules/lexicons/en/physical_threat.yaml:12",
        "evidence": digest(EVIDENCE),
    }
    text = json.dumps(entry)
    for words in ("tomorrow", "smash it", "ring twice"):
        assert words not in text


def test_drop_removes_text_evidence_and_free_attributes() -> None:
    entry = line(TextPolicy.DROP)

    assert "text" not in entry["input"]
    assert entry["input"]["attributes"] == {"complexity": 3, "limit": "time"}
    assert "evidence" not in entry["signals"][0]
    assert "tomorrow" not in json.dumps(entry)


def test_keep_logs_everything_as_sent() -> None:
    entry = line(TextPolicy.KEEP)

    assert entry["input"]["text"] == TEXT
    assert entry["input"]["attributes"]["order_note"] == "ring twice"
    assert entry["signals"][0]["evidence"] == EVIDENCE


def test_why_and_the_result_are_logged_as_the_decision_gave_them() -> None:
    entry = line(TextPolicy.HASH)

    assert entry["matched_rules"] == [
        {
            "id": "physical-threat",
            "why": "signal physical_threat (en) matched entry 'come to your ... and smash'",
        }
    ]
    assert entry["result"]["outcome"] == "escalate"
    assert "signals" not in entry["result"]


def test_a_timer_events_own_attributes_are_logged_but_a_dry_runs_are_masked() -> None:
    timer = event(
        type="deadline_reached",
        text=None,
        attributes={"timer_id": "callback", "timer_state": "breached", "due_at": "2026-11-30"},
    )

    stored = line(TextPolicy.HASH, event=timer)
    dry = line(TextPolicy.HASH, event=timer, dry_run=True)

    assert stored["input"]["attributes"]["timer_id"] == "callback"
    assert dry["input"]["attributes"]["timer_id"] == digest("callback")


def test_the_log_writes_by_its_own_policy_whatever_form_the_decision_has(tmp_path: Path) -> None:
    target = tmp_path / "decisions.jsonl"
    log = DecisionLog(str(target), TextPolicy.HASH, b"key", readable=lambda: READABLE)

    log.decision(decision(), event(), caller="t", customer_id=None, dry_run=False)
    log.close()

    written = target.read_text(encoding="utf-8")
    assert "tomorrow" not in written
    assert "ring twice" not in written
    entry = json.loads(written)
    assert entry["input"]["text"] == digest(TEXT, b"key")
    assert entry["input"]["attributes"]["complexity"] == 3


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, "hash"),
        ({"DECISION_LOG_MASK_TEXT": False}, "keep"),
        ({"DECISION_LOG_MASK_TEXT": True}, "hash"),
        ({"TEXT_POLICY": "drop", "DECISION_LOG_MASK_TEXT": False}, "drop"),
    ],
)
def test_the_older_mask_setting_maps_onto_the_text_policy(
    settings: dict[str, Any], expected: str
) -> None:
    from service.config import text_policy

    assert text_policy(settings) == expected


def test_a_why_stored_before_masking_is_logged_without_its_words() -> None:
    old = decision()
    old["matched_rules"] = [{"id": "physical-threat", "why": f"signal x (en) matched '{EVIDENCE}'"}]

    hashed = record(old, event(), caller="t", customer_id=None, dry_run=False)
    kept = record(
        old, event(), caller="t", customer_id=None, dry_run=False, policy=TextPolicy.KEEP
    )

    assert "tomorrow" not in json.dumps(hashed)
    assert kept["matched_rules"][0]["why"] == f"signal x (en) matched '{EVIDENCE}'"


def test_the_older_mask_switches_still_choose_hash_or_keep(tmp_path: Path) -> None:
    kept = record(decision(), event(), caller="t", customer_id=None, dry_run=False, mask=False)
    hashed = record(decision(), event(), caller="t", customer_id=None, dry_run=False, mask=True)

    assert kept["input"]["text"] == TEXT
    assert hashed["input"]["text"] == digest(TEXT)
    assert DecisionLog(str(tmp_path / "a.jsonl"), mask_text=False).policy is TextPolicy.KEEP
    assert DecisionLog(str(tmp_path / "b.jsonl"), mask_text=True).mask_text
