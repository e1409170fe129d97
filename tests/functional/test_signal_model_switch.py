"""The trained model stands behind the lexicon unless ESCALATION_SIGNAL_MODEL turns it off."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from service import create_app
from service.policy import build_policy
from service.ruleset.modelfile import bundled
from tests.conftest import close_app

RULES = Path(__file__).resolve().parents[2] / "rules"


def test_a_policy_has_the_model_unless_told_not_to() -> None:
    assert build_policy(RULES).detector.model is bundled()
    assert build_policy(RULES, signal_model=False).detector.model is None


def served_model(tmp_path: Path) -> object:
    """Return the signal model of a service created with the configuration of its environment."""
    app: Flask = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DECISION_LOG": str(tmp_path / "decisions.jsonl"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'escalation.db'}",
            "TIMER_POLL_SECONDS": 0,
        }
    )
    try:
        return app.extensions["escalation"].policies.current.detector.model
    finally:
        close_app(app)


def test_the_service_reads_the_switch_from_its_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ESCALATION_SIGNAL_MODEL", raising=False)
    assert served_model(tmp_path / "default") is bundled()
    for off in ("false", "0", "no", "off", " Off "):
        monkeypatch.setenv("ESCALATION_SIGNAL_MODEL", off)
        assert served_model(tmp_path / off.strip()) is None
    monkeypatch.setenv("ESCALATION_SIGNAL_MODEL", "true")
    assert served_model(tmp_path / "on") is bundled()
