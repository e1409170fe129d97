"""POST /v1/evaluate shows what the signal mechanisms did: cancelled candidates, edits, anger."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.factories import wire_event
from tests.support.keys import read_text


def evaluate(client: FlaskClient, text: str, explain: bool = False) -> Any:
    url = "/v1/evaluate?explain=full" if explain else "/v1/evaluate"
    response = client.post(url, json={"event": wire_event(text=text)})
    assert response.status_code == 200
    return response.get_json()


def test_a_candidate_a_cue_set_cancelled_shows_with_the_set_and_its_line(
    client: FlaskClient,
) -> None:
    decision = evaluate(client, "My brother says he will sue you.", explain=True)

    assert decision["signals"] == []
    (cancelled,) = decision["cancelled_signals"]
    assert cancelled["name"] == "legal_threat"
    assert cancelled["by"] == "cue set reported_speech"
    assert cancelled["cue_source"].startswith("rules/lexicons/en/cues.yaml:")
    assert cancelled["source"].startswith("rules/lexicons/en/legal_threat.yaml:")
    assert cancelled["evidence"] == "sue you"


def test_negations_and_exclusions_show_with_their_lines_too(client: FlaskClient) -> None:
    decision = evaluate(client, "Ich habe nicht vor, Sie zu verklagen.", explain=True)

    assert decision["signals"] == []
    assert [(c["name"], c["by"]) for c in decision["cancelled_signals"]] == [
        ("legal_threat", "negation")
    ]
    assert decision["cancelled_signals"][0]["cue_source"].startswith(
        "rules/lexicons/de/legal_threat.yaml:"
    )


def test_cancelled_candidates_are_shown_only_when_asked_for(client: FlaskClient) -> None:
    decision = evaluate(client, "My brother says he will sue you.")

    assert "cancelled_signals" not in decision


def test_a_spelling_rewrite_shows_in_the_evidence(client: FlaskClient) -> None:
    masked = evaluate(client, "i want to speak to ur manger now")
    decision = evaluate(read_text(client), "i want to speak to ur manger now")

    (signal,) = decision["signals"]
    assert signal["name"] == "supervisor_demand"
    assert signal["evidence"] == "i want to speak to ur manger"
    assert signal["edits"] == ["ur→your (chat spelling)", "manger→manager (one edit)"]
    # Without text:read the words as written are a length; what they were read as shows.
    assert masked["signals"][0]["edits"] == [
        "(text, 2 characters)→your (chat spelling)",
        "(text, 6 characters)→manager (one edit)",
    ]


def test_the_first_angry_message_gets_calm_first_guidance_and_no_escalation(
    client: FlaskClient,
) -> None:
    decision = evaluate(client, "I am absolutely furious, this is ridiculous.")

    assert [s["name"] for s in decision["signals"]] == ["anger"]
    assert decision["signals"][0]["source"].startswith("rules/lexicons/en/anger.yaml:")
    assert "anger-first" in {m["id"] for m in decision["matched_rules"]}
    assert decision["outcome"] == "none"
