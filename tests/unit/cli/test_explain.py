"""``escalation explain``: the decision, why each rule matched, and why each other one did not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.cli import main
from tests.factories import rules_dir

LIMITS = {"max_complexity": 3, "max_hostility": 3, "max_minutes": 45}
EVENT = {
    "type": "customer_message",
    "channel": "chat",
    "customer": {"id": "cus-1"},
    "agent": {"id": "ag-1"},
    "text": "Get me your manager, you idiot!",
    "attributes": {"complexity": 3},
}


def write(tmp_path: Path, name: str, content: Any) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), "utf-8")
    return path


def test_prints_the_decision_the_matches_and_the_first_failure_of_every_miss(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    event = write(tmp_path, "event.json", EVENT)
    case = write(tmp_path, "case.json", {"agent": {"id": "ag-1", "limits": LIMITS}})

    status = main(["explain", str(event), "--case", str(case)])

    out = capsys.readouterr().out
    assert status == 0
    assert "outcome:     escalate" in out
    assert "escalations: supervisor (handover, customer-demands-supervisor)" in out
    assert "route to:    supervisors" in out
    assert "priority:    high" in out
    assert "  - Acknowledge the request;" in out
    # Why names the lexicon entry and its line, never the words of the message.
    assert (
        "  customer-demands-supervisor: signal supervisor_demand (en) matched entry '(get|give"
        in out
    )
    assert "at rules/lexicons/en/supervisor_demand.yaml:" in out
    assert "Get me your manager" not in out
    assert (
        "  complexity-over-agent-limit: case.complexity 3 > agent.limits.max_complexity 3: false\n"
        "      observed case.complexity = 3\n"
    ) in out
    assert (
        "  specialist-for-unfamiliar-topic: case.topic (absent) is present: false\n"
        "      observed case.topic = (absent)\n"
    ) in out


def test_json_lists_every_rule_once_as_matched_or_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = rules_dir(
        tmp_path,
        {
            "r.yaml": """
            rules:
              - id: busy
                title: Busy
                description: Many messages.
                priority: 50
                when:
                  all:
                    - event.channel: {eq: chat}
                    - case.messages: {gte: 5}
                then:
                  guidance: "Busy."
              - id: chatty
                title: Chatty
                description: A chat.
                priority: 50
                when:
                  event.channel: {eq: chat}
                then:
                  guidance: "Chat."
            """
        },
    )
    event = write(tmp_path, "event.json", EVENT)

    status = main(["explain", str(event), "--rules", str(rules), "--json"])

    decision = json.loads(capsys.readouterr().out)
    assert status == 0
    assert [m["id"] for m in decision["matched_rules"]] == ["chatty"]
    assert decision["not_matched"] == [
        {
            "id": "busy",
            "title": "Busy",
            "failed": {
                "condition": "case.messages 1 >= 5: false",
                "field": "case.messages",
                "observed": 1,
            },
        }
    ]
    assert decision["event_id"] == "cli-explain"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"type": ', "event.json: not valid JSON: Expecting value at line 1"),
        ('{"type": "a", "type": "b"}', 'event.json: not valid JSON: the key "type" appears twice'),
        ("[1, 2]", "event.json: expected a JSON object"),
        ({**EVENT, "type": "custmer_message"}, "type: unknown type"),
        ({**EVENT, "attributes": {"complexity": 30}}, "attributes.complexity: expected a number"),
        ({**EVENT, "colour": "red"}, 'colour: unknown field "colour"'),
    ],
)
def test_a_bad_event_file_is_named_with_the_field_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: Any, expected: str
) -> None:
    event = write(tmp_path, "event.json", content)

    status = main(["explain", str(event)])

    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    assert expected in captured.err
    assert str(event) in captured.err
    assert "Traceback" not in captured.err


def test_a_bad_case_file_is_named_with_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    event = write(tmp_path, "event.json", EVENT)
    case = write(tmp_path, "case.json", {"hostility": 11})

    status = main(["explain", str(event), "--case", str(case)])

    err = capsys.readouterr().err
    assert status == 2
    assert f"{case}: invalid fields:" in err
    assert "hostility: expected 0 to 10" in err


def test_a_missing_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["explain", str(tmp_path / "nowhere.json")])

    assert status == 2
    assert f"{tmp_path / 'nowhere.json'}: cannot read the file" in capsys.readouterr().err
