"""evaluate(): why, guidance and explanations carry no message text and no free attribute value."""

from __future__ import annotations

import json
from pathlib import Path

from service.cases.model import Snapshot
from service.decide import evaluate
from service.policy import Policy, build_policy
from service.store import codec
from tests.factories import WHEN, event, rules_dir

GAP = "onMainStreet"
THREAT = f"I am coming to your shop {GAP} and smash it all."


def test_why_names_the_lexicon_entry_and_the_evidence_stays_on_the_signal(policy: Policy) -> None:
    decision = evaluate(policy, Snapshot(), event(text=THREAT), case_id=None, now=WHEN).decision

    (signal,) = decision.signals
    assert GAP in signal.evidence  # the signal keeps it, for text:read callers
    assert signal.entry.startswith("(come|coming|go|going)")
    whys = [m.why for m in decision.matched]
    assert whys
    assert all(GAP not in why for why in whys)
    assert any(f"matched entry '{signal.entry}' at {signal.source}" in why for why in whys)


def test_guidance_placeholders_show_text_and_free_attributes_as_stand_ins(tmp_path: Path) -> None:
    root = rules_dir(
        tmp_path,
        {
            "notes.yaml": """
                rules:
                  - id: echo
                    title: Echo
                    description: Renders text into guidance.
                    priority: 10
                    when:
                      all:
                        - event.type: {eq: customer_message}
                        - event.attributes.note: {exists: true}
                    then:
                      guidance: "Said {event.text}; topic {event.attributes.topic}."
                    """
        },
    )
    built = build_policy(root)
    told = event(text="my address is 1 Elm Road", attributes={"note": "x", "topic": "Elm Road"})

    decision = evaluate(
        built, Snapshot(), told, case_id=None, now=WHEN, explain_misses=True
    ).decision

    assert decision.guidance == ("Said (text, 24 characters); topic (text, 8 characters).",)
    assert "Elm" not in json.dumps(codec.decision_to_json(decision))
