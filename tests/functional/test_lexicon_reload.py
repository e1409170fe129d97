"""Rule authors extend lexicons without code: a new phrase fires after a reload; a bad one is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

from flask.testing import FlaskClient

from service import create_app
from tests.conftest import RULES
from tests.support.keys import authorize

MESSAGE = "Ik wil je manager spreken, nu meteen."  # Dutch: no bundled lexicon covers it


def client_for(tmp_path: Path) -> tuple[FlaskClient, Path]:
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    app = create_app(
        {
            "TESTING": True,
            "RULES_DIR": str(rules),
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DECISION_LOG": str(tmp_path / "decisions.jsonl"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
            "DECISION_LOG_FLUSH_SECONDS": 0,
        }
    )
    return authorize(app).test_client(), rules


def signals(client: FlaskClient, text: str) -> list[str]:
    event = {
        "event_id": "e",
        "type": "customer_message",
        "occurred_at": "2026-11-22T10:00:00Z",
        "channel": "chat",
        "text": text,
    }
    return [
        s["name"] for s in client.post("/v1/evaluate", json={"event": event}).get_json()["signals"]
    ]


def test_a_phrase_added_to_a_lexicon_fires_after_reload(tmp_path: Path) -> None:
    client, rules = client_for(tmp_path)
    assert signals(client, MESSAGE) == []

    lexicon = rules / "lexicons" / "en" / "supervisor_demand.yaml"
    lexicon.write_text(
        lexicon.read_text().replace(
            "phrases:\n",
            "phrases:\n  - (wil|wilt) (je|uw|de) (manager|leidinggevende) spreken\n",
            1,
        )
    )
    assert signals(client, MESSAGE) == []  # nothing changes until the reload

    response = client.post("/v1/rules/reload")

    assert response.status_code == 200
    assert signals(client, MESSAGE) == ["supervisor_demand"]
    decision = client.post(
        "/v1/evaluate",
        json={
            "event": {
                "event_id": "e",
                "type": "customer_message",
                "occurred_at": "2026-11-22T10:00:00Z",
                "channel": "chat",
                "text": MESSAGE,
            }
        },
    ).get_json()
    assert decision["signals"][0]["entry"] == "(wil|wilt) (je|uw|de) (manager|leidinggevende) spreken"
    assert decision["outcome"] == "escalate"


def test_an_unsafe_phrase_is_refused_with_file_line_and_reason(tmp_path: Path) -> None:
    client, rules = client_for(tmp_path)
    before = client.get("/v1/rules").get_json()["revision"]
    lexicon = rules / "lexicons" / "en" / "legal_threat.yaml"
    lines = lexicon.read_text().splitlines()
    first_phrase = lines.index("phrases:") + 1
    lines[first_phrase:first_phrase] = ["  - sue", "  - law*suit"]
    lexicon.write_text("\n".join(lines) + "\n")

    response = client.post("/v1/rules/reload")

    assert response.status_code == 422
    issues = response.get_json()["issues"]
    assert [(i["file"], i["line"]) for i in issues] == [
        ("rules/lexicons/en/legal_threat.yaml", first_phrase + 1),
        ("rules/lexicons/en/legal_threat.yaml", first_phrase + 2),
    ]
    assert "a phrase of one word needs at least 5 letters" in issues[0]["message"]
    assert '"*" may stand only at the start or end of a word' in issues[1]["message"]
    assert client.get("/v1/rules").get_json()["revision"] == before
    assert signals(client, "Sue from billing called.") == []
