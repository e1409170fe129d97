"""The live application against its own OpenAPI document, with schemathesis.

Every operation gets at least 300 generated requests, valid and invalid: none
may answer a 5xx, and every answer must conform to the document (a status it
lists, its content type, its schema).  Then the state machine follows the
document's links: an event posted to a case is read back through the case and
the decision log.  The database is a throwaway SQLite file; the run is
derandomized so it is the same on every machine.  Per-operation counts are
printed at the end so they can be quoted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.api.openapi import build_spec
from service.policy import Policy
from tests.conftest import open_app

pytestmark = pytest.mark.slow

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 300
# Generous: it bounds a hang, not speed (the machine may be busy).
DEADLINE = timedelta(seconds=30)
COUNTS: Counter[tuple[str, str]] = Counter()  # (operation, status) -> requests
EVENTS = "POST /v1/cases/{case_id}/events"
EVALUATE = "POST /v1/evaluate"
# Child tables first; rule bundles, activations and state stay.
RESET_TABLES = (
    "deadlines",
    "webhook_deliveries",
    "webhook_endpoints",
    "decision_rules",
    "events",
    "cases",
    "customers",
    "agents",
)


def date_events_now(case: schemathesis.Case) -> None:
    """Date a generated event now, where one is sent, so that valid events are decided.

    The document cannot say "within a year of the server clock" (a 422 otherwise):
    without this, no generated event would ever be stored or evaluated, and no
    decision would ever be checked against its schema, nor any link followed.
    """
    body = case.body
    if not isinstance(body, dict):
        return
    if case.operation.label == EVENTS and "occurred_at" in body:
        body["occurred_at"] = datetime.now(UTC).isoformat()
    elif case.operation.label == EVALUATE and isinstance(body.get("event"), dict):
        event = body["event"]
        if "occurred_at" in event:
            event["occurred_at"] = datetime.now(UTC).isoformat()


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory, policy: Policy) -> Iterator[Flask]:
    yield from open_app(
        tmp_path_factory.mktemp("contract"),
        policy,
        f"sqlite:///{tmp_path_factory.mktemp('db') / 'contract.db'}",
    )


@pytest.fixture(scope="module", autouse=True)
def _report_counts(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    operations: dict[str, Counter[str]] = {}
    for (label, status), count in COUNTS.items():
        operations.setdefault(label, Counter())[status] += count
    total = sum(COUNTS.values())
    lines = ["", f"schemathesis requests per operation, by status ({total} in all, 0 failures):"]
    for label, statuses in sorted(operations.items()):
        by_status = ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items()))
        lines.append(f"  {sum(statuses.values()):6d}  {label}  ({by_status})")
    with capture.global_and_fixture_disabled():
        print("\n".join(lines), flush=True)


# The document the application serves at /openapi.json (test_served_document_is_the_one_tested
# checks); loaded at import because schemathesis' lazy fixture loader does not run on pytest 9.
schema = schemathesis.openapi.from_dict(build_spec())


def test_served_document_is_the_one_tested(live_app: Flask) -> None:
    assert live_app.test_client().get("/openapi.json").get_json() == build_spec()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=DEADLINE,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_conforms_and_never_fails(
    case: schemathesis.Case, live_app: Flask, api_headers: dict[str, str]
) -> None:
    date_events_now(case)
    response = case.call_and_validate(app=live_app, headers=api_headers, checks=CHECKS)
    COUNTS[case.operation.label, str(response.status_code)] += 1


def test_linked_operations_conform_as_a_state_machine(
    live_app: Flask, api_headers: dict[str, str]
) -> None:
    linked_schema = schemathesis.openapi.from_dict(build_spec())
    # Only the document's own links: inferred ones start every scenario at GET /v1/webhooks.
    linked_schema.config.phases.stateful.inference.algorithms = []
    base = linked_schema.as_state_machine()

    class Machine(base):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"app": live_app, "headers": api_headers}

        def setup(self) -> None:
            # Every scenario starts from an empty service (the active rules kept), so that
            # replaying one answers as it did the first time: 201, not the 200 of a duplicate.
            engine = live_app.extensions["escalation"].store.engine
            with engine.begin() as conn:
                for table in RESET_TABLES:
                    conn.exec_driver_sql(f"DELETE FROM {table}")

        def before_call(self, case: schemathesis.Case) -> None:
            date_events_now(case)

        def validate_response(self, response: Any, case: schemathesis.Case, **kwargs: Any) -> None:
            COUNTS[f"stateful {case.operation.label}", str(response.status_code)] += 1
            case.validate_response(response, checks=CHECKS)

    Machine.run(
        settings=settings(
            max_examples=100,
            stateful_step_count=6,
            deadline=DEADLINE,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    linked = {key for key in COUNTS if key[0].startswith("stateful ")}
    # A case is found only after an event was stored in it: the link was followed.
    assert (f"stateful {EVENTS}", "201") in linked, sorted(linked)
    assert ("stateful GET /v1/cases/{case_id}", "200") in linked, sorted(linked)


def test_the_document_links_an_event_to_its_case_and_decisions(live_app: Flask) -> None:
    links = live_app.extensions["openapi"]["paths"]["/v1/cases/{case_id}/events"]["post"][
        "responses"
    ]["201"]["links"]
    assert {link["operationId"] for link in links.values()} >= {"getCase", "listDecisions"}
