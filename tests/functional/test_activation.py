"""Activated revisions live in the database: every app on one database serves the same one.

Each test runs two applications on one database (as two servers would),
each with its own copy of the rules folder, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.engine import durable_backend
from service.policy import Policy
from service.ruleset import loader
from service.ruleset.bundle import Bundle
from service.ruleset.issues import InvalidFiles
from tests.factories import RULES, wire_event
from tests.support.databases import BACKENDS, database_url
from tests.support.keys import authorize

TYPO = """
rules:
  - id: typo
    title: Typo
    description: A misspelled field.
    when: {case.complexty: {gt: 2}}
    then: {guidance: hi}
"""


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_url(request.param, tmp_path, request)


def make_app(tmp_path: Path, db: str, name: str, policy: Policy | None = None, **config: Any) -> Flask:
    rules = tmp_path / name / "rules"
    if not rules.exists():
        shutil.copytree(RULES, rules)
    app = create_app(
        {
            "TESTING": True,
            "RULES_DIR": str(rules),
            "INSTANCE_PATH": str(tmp_path / name / "instance"),
            "DECISION_LOG": str(tmp_path / name / "decisions.jsonl"),
            "DATABASE_URL": db,
            "DECISION_LOG_FLUSH_SECONDS": 0,
            "RULES_POLL_SECONDS": 0,  # the tests call refresh() to follow, deterministically
            **config,
        },
        policy=policy,
    )
    return authorize(app)


@pytest.fixture
def pair(tmp_path: Path, db: str, policy: Policy) -> Iterator[tuple[Flask, Flask]]:
    apps = (make_app(tmp_path, db, "a", policy), make_app(tmp_path, db, "b", policy))
    yield apps
    for app in apps:
        app.extensions["escalation"].store.engine.dispose()


def raised_threshold_bundle() -> dict[str, str]:
    files = Bundle.from_directory(RULES).as_text()
    files["limits.yaml"] = files["limits.yaml"].replace(
        "case.complexity: {gt: agent.limits.max_complexity}", "case.complexity: {gt: 9}"
    )
    return files


def follow(app: Flask) -> None:
    app.extensions["escalation"].policies.refresh()


def served(client: FlaskClient) -> str:
    event = wire_event(event_id="probe")
    decision = client.post("/v1/evaluate", json={"event": event}).get_json()
    revision: str = decision["rules_revision"]
    return revision


def test_an_empty_database_is_seeded_from_the_rules_folder(pair: tuple[Flask, Flask]) -> None:
    first, second = (app.test_client() for app in pair)
    seeded = Bundle.from_directory(RULES).revision

    rules = first.get("/v1/rules").get_json()
    assert rules["revision"] == rules["active_revision"] == seeded
    assert second.get("/v1/rules").get_json()["revision"] == seeded
    history = first.get("/v1/rules/revisions").get_json()["activations"]
    assert [(h["action"], h["revision"]) for h in history] == [("seed", seeded)]


def test_an_activated_bundle_is_served_by_every_app(pair: tuple[Flask, Flask]) -> None:
    first, second = (app.test_client() for app in pair)
    before = served(second)

    response = first.post("/v1/rules/activate", json={"files": raised_threshold_bundle()})
    assert response.status_code == 200, response.get_json()
    activated = response.get_json()
    assert activated["previous_revision"] == before
    assert activated["revision"] != before
    assert served(first) == activated["revision"]

    assert served(second) == before  # not followed yet: nothing is pushed to a worker
    follow(pair[1])
    assert served(second) == activated["revision"]
    assert second.get("/v1/rules").get_json()["active_revision"] == activated["revision"]


def test_rollback_by_revision_id(pair: tuple[Flask, Flask]) -> None:
    first, second = (app.test_client() for app in pair)
    original = served(first)
    first.post("/v1/rules/activate", json={"files": raised_threshold_bundle()})

    rolled = second.post("/v1/rules/activate", json={"revision": original}).get_json()
    follow(pair[0])

    assert rolled["revision"] == original
    assert served(first) == served(second) == original
    history = first.get("/v1/rules/revisions").get_json()["activations"]
    assert [h["action"] for h in history] == ["rollback", "activate", "seed"]
    assert history[0]["previous_revision"] == history[1]["revision"]


def test_an_unknown_revision_is_a_404(pair: tuple[Flask, Flask]) -> None:
    client = pair[0].test_client()
    response = client.post("/v1/rules/activate", json={"revision": "sha256:" + "0" * 64})

    assert response.status_code == 404
    assert response.get_json()["code"] == "revision_not_found"


def test_a_reload_takes_this_servers_folder_and_reaches_the_other(
    tmp_path: Path, pair: tuple[Flask, Flask]
) -> None:
    first, second = (app.test_client() for app in pair)
    limits = tmp_path / "a" / "rules" / "limits.yaml"
    limits.write_text(limits.read_text().replace("priority: 55", "priority: 56"))

    reloaded = first.post("/v1/rules/reload").get_json()
    follow(pair[1])

    assert reloaded["revision"] == Bundle.from_directory(limits.parent).revision
    assert served(second) == reloaded["revision"]


def test_a_broken_reload_is_recorded_and_changes_nothing(
    tmp_path: Path, pair: tuple[Flask, Flask]
) -> None:
    first, second = (app.test_client() for app in pair)
    before = served(first)
    (tmp_path / "a" / "rules" / "typo.yaml").write_text(TYPO)

    response = first.post("/v1/rules/reload")

    assert response.status_code == 422
    assert response.get_json()["code"] == "rules_invalid"
    follow(pair[1])
    assert served(first) == served(second) == before
    failure = second.get("/v1/rules").get_json()["last_failure"]
    assert failure["action"] == "reload"
    (issue,) = failure["issues"]
    assert (issue["file"], issue["line"], issue["rule"]) == ("rules/typo.yaml", 6, "typo")
    assert "complexty" in issue["message"]


def test_a_broken_folder_on_disk_never_stops_an_app_from_booting(
    tmp_path: Path, db: str, pair: tuple[Flask, Flask]
) -> None:
    (tmp_path / "b" / "rules" / "typo.yaml").write_text(TYPO)
    active = served(pair[0].test_client())

    restarted = make_app(tmp_path, db, "b")

    assert served(restarted.test_client()) == active


def test_an_edited_folder_is_never_served_without_an_activation(
    tmp_path: Path, db: str, pair: tuple[Flask, Flask]
) -> None:
    active = served(pair[0].test_client())
    limits = tmp_path / "b" / "rules" / "limits.yaml"
    limits.write_text(limits.read_text().replace("priority: 55", "priority: 57"))

    restarted = make_app(tmp_path, db, "b")

    assert served(restarted.test_client()) == active


def test_validation_builds_no_engine(pair: tuple[Flask, Flask]) -> None:
    client = pair[0].test_client()
    built = durable_backend.rulesets_built()

    on_disk = client.post("/v1/rules/validate").get_json()
    sent = client.post("/v1/rules/validate", json={"files": raised_threshold_bundle()}).get_json()

    assert on_disk["valid"]
    assert sent["valid"]
    assert sent["revision"] != on_disk["revision"]
    assert durable_backend.rulesets_built() == built


def test_a_bundle_with_a_problem_is_refused_with_every_issue(pair: tuple[Flask, Flask]) -> None:
    client = pair[0].test_client()
    files = raised_threshold_bundle()
    files["typo.yaml"] = TYPO
    files["notes.txt"] = "not a rule file"

    response = client.post("/v1/rules/activate", json={"files": files})

    assert response.status_code == 422
    flagged = {issue["file"] for issue in response.get_json()["issues"]}
    assert flagged == {"rules/typo.yaml", "rules/notes.txt"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "files"),
        ({"revision": "abc"}, "revision"),
        ({"files": {"/etc/passwd": "x"}}, "files"),
        ({"files": {"a.yaml": 3}}, "files"),
        ({"files": {"a.yaml": "rules: []"}, "revision": "sha256:" + "0" * 64}, "files"),
        ({"files": {"a.yaml": "rules: []"}, "force": "maybe"}, "force"),
    ],
)
def test_bad_activation_bodies_name_the_field(
    pair: tuple[Flask, Flask], body: dict[str, Any], field: str
) -> None:
    response = pair[0].test_client().post("/v1/rules/activate", json=body)

    assert response.status_code == 422
    assert any(e["field"].startswith(field) for e in response.get_json()["errors"])


def test_a_whole_bundle_fits_in_an_activation_body(pair: tuple[Flask, Flask]) -> None:
    files = raised_threshold_bundle()
    assert sum(len(text.encode()) for text in files.values()) > 256 * 1024  # above the event limit

    response = pair[0].test_client().post("/v1/rules/activate", json={"files": files})

    assert response.status_code == 200


def test_replaced_engines_are_freed(tmp_path: Path, db: str) -> None:
    app = make_app(tmp_path, db, "solo", RULES_CACHE_SIZE=1)
    client = app.test_client()
    original = served(client)
    raised = client.post("/v1/rules/activate", json={"files": raised_threshold_bundle()})
    revisions = [original, raised.get_json()["revision"]]
    live = durable_backend.free_collected()

    for turn in range(6):
        client.post("/v1/rules/activate", json={"revision": revisions[turn % 2]})
        assert served(client) == revisions[turn % 2]

    # Every activation built an engine (a cache of one), and the one replaced was freed.
    assert durable_backend.free_collected() <= live


def complex_case_event() -> dict[str, Any]:
    return {
        "event": wire_event(event_id="cx", attributes={"complexity": 5}),
        "case": {
            "agent": {
                "id": "ag-1",
                "limits": {"max_complexity": 3, "max_hostility": 3, "max_minutes": 45},
            }
        },
    }


def test_evaluate_against_a_candidate_bundle_or_revision(pair: tuple[Flask, Flask]) -> None:
    client = pair[0].test_client()
    active = client.post("/v1/evaluate", json=complex_case_event()).get_json()
    assert "complexity-over-agent-limit" in {m["id"] for m in active["matched_rules"]}

    bundle = raised_threshold_bundle()
    request = {**complex_case_event(), "rules": {"files": bundle}}
    candidate = client.post("/v1/evaluate", json=request).get_json()
    stored = client.post(
        "/v1/evaluate", json={**complex_case_event(), "rules": {"revision": active["rules_revision"]}}
    ).get_json()

    assert candidate["rules_revision"] == Bundle.from_text(bundle).revision
    assert "complexity-over-agent-limit" not in {m["id"] for m in candidate["matched_rules"]}
    assert stored["rules_revision"] == active["rules_revision"]
    assert served(client) == active["rules_revision"]  # evaluating a candidate activates nothing


def test_evaluate_against_a_broken_or_unknown_candidate(pair: tuple[Flask, Flask]) -> None:
    client = pair[0].test_client()
    broken = {**complex_case_event(), "rules": {"files": {"typo.yaml": TYPO}}}
    unknown = {**complex_case_event(), "rules": {"revision": "sha256:" + "1" * 64}}

    invalid = client.post("/v1/evaluate", json=broken)
    missing = client.post("/v1/evaluate", json=unknown)

    assert invalid.status_code == 422
    assert invalid.get_json()["issues"][0]["file"] == "rules/typo.yaml"
    assert missing.status_code == 404


EVERYTHING = """
rules:
  - id: escalate-everything
    title: Escalate everything
    description: A rule set that escalates every message is broken.
    when: {event.type: {eq: customer_message}}
    then: {escalate: supervisor, route_to: supervisors}
"""


def store_history(client: FlaskClient, count: int = 12) -> None:
    for n in range(count):
        event = wire_event(event_id=f"h-{n}", text="Where is my parcel?")
        assert client.post(f"/v1/cases/H-{n % 4}/events", json=event).status_code == 201


def test_the_guard_refuses_a_candidate_that_escalates_everything(pair: tuple[Flask, Flask]) -> None:
    client = pair[0].test_client()
    store_history(client)
    active = served(client)
    files = {**Bundle.from_directory(RULES).as_text(), "everything.yaml": EVERYTHING}

    refused = client.post("/v1/rules/activate", json={"files": files})

    assert refused.status_code == 409
    problem = refused.get_json()
    assert problem["code"] == "escalation_rate_guard"
    assert problem["replay"]["events"] == 12
    assert problem["replay"]["escalation_rate"] == {"before": 0.0, "after": 1.0}
    assert problem["replay"]["by_rule"]["escalate-everything"]["fires_more"] == 12
    assert served(client) == active
    failure = pair[1].test_client().get("/v1/rules").get_json()["last_failure"]
    assert failure["reason"].startswith("the escalation rate would rise from 0.0% to 100.0%")

    forced = client.post("/v1/rules/activate", json={"files": files, "force": True})

    assert forced.status_code == 200
    record = forced.get_json()["activation"]
    assert record["forced"] is True
    assert record["replay"]["escalation_rate"]["after"] == 1.0
    assert client.get("/v1/rules").get_json()["last_failure"] is None


def test_the_guard_lets_an_identical_or_calmer_candidate_through(
    tmp_path: Path, pair: tuple[Flask, Flask]
) -> None:
    client = pair[0].test_client()
    store_history(client)
    limits = tmp_path / "a" / "rules" / "limits.yaml"
    limits.write_text(limits.read_text().replace("priority: 55", "priority: 54"))

    reloaded = client.post("/v1/rules/reload")

    assert reloaded.status_code == 200, reloaded.get_json()
    replay = reloaded.get_json()["activation"]["replay"]
    assert replay["events"] == 12
    assert replay["changed"] == 0


def test_reload_takes_force_as_a_query_parameter(tmp_path: Path, pair: tuple[Flask, Flask]) -> None:
    client = pair[0].test_client()
    store_history(client)
    (tmp_path / "a" / "rules" / "everything.yaml").write_text(EVERYTHING)

    assert client.post("/v1/rules/reload").status_code == 409
    assert client.post("/v1/rules/reload?force=maybe").status_code == 422
    assert client.post("/v1/rules/reload?force=true").status_code == 200


def test_the_clock_given_to_the_factory_times_every_decision(tmp_path: Path, policy: Policy) -> None:
    moment = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "clocked"),
            "DECISION_LOG": str(tmp_path / "clocked.jsonl"),
            "RULES_POLL_SECONDS": 0,
            "DECISION_LOG_FLUSH_SECONDS": 0,
        },
        policy=policy,
        clock=lambda: moment,
    )
    client = authorize(app).test_client()

    stored = client.post("/v1/cases/T-1/events", json=wire_event(event_id="t-1")).get_json()
    dry = client.post("/v1/evaluate", json={"event": wire_event(event_id="t-2")}).get_json()
    history = client.get("/v1/rules/revisions").get_json()["activations"]

    assert stored["evaluated_at"] == dry["evaluated_at"] == moment.isoformat()
    assert history[0]["activated_at"] == moment.isoformat()


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), ("limit=abc", "limit"), ("limit=²", "limit"), ("before=" + "9" * 30, "before")],
)
def test_bad_revision_queries_name_the_field(
    pair: tuple[Flask, Flask], query: str, field: str
) -> None:
    response = pair[0].test_client().get(f"/v1/rules/revisions?{query}")

    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == [field]


def test_revisions_page_with_a_cursor(pair: tuple[Flask, Flask]) -> None:
    client = pair[0].test_client()
    original = served(client)
    raised = client.post("/v1/rules/activate", json={"files": raised_threshold_bundle()})
    client.post("/v1/rules/activate", json={"revision": original})

    first = client.get("/v1/rules/revisions?limit=2").get_json()
    rest = client.get(f"/v1/rules/revisions?limit=2&before={first['next_before']}").get_json()

    assert [a["action"] for a in first["activations"]] == ["rollback", "activate"]
    assert first["activations"][1]["revision"] == raised.get_json()["revision"]
    assert [a["action"] for a in rest["activations"]] == ["seed"]
    assert rest["next_before"] is None


@pytest.mark.parametrize(
    ("path", "wrap"),
    [
        ("/v1/rules/activate", lambda files: {"files": files}),
        ("/v1/rules/validate", lambda files: {"files": files}),
        ("/v1/evaluate", lambda files: {"event": wire_event(event_id="s"), "rules": {"files": files}}),
    ],
)
def test_a_bundle_file_with_a_lone_surrogate_is_named_not_a_500(
    pair: tuple[Flask, Flask], path: str, wrap: Any
) -> None:
    raw = json.dumps(wrap({"odd.yaml": "\ud800"}))  # ensure_ascii keeps the escape

    response = pair[0].test_client().post(path, data=raw, content_type="application/json")

    assert response.status_code == 422
    fields = [e["field"] for e in response.get_json()["errors"]]
    assert fields == [("rules." if path == "/v1/evaluate" else "") + "files.odd.yaml"]


def test_a_bundle_read_from_text_with_a_lone_surrogate_is_not_utf8() -> None:
    with pytest.raises(InvalidFiles) as caught:
        loader.load_bundle(Bundle.from_text({"odd.yaml": "\ud800"}))

    assert "not UTF-8" in caught.value.issues[0].message
