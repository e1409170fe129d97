"""StrictSchema's load loop: the same results and the same errors as marshmallow's own."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError

from schemas.api import (
    AgentProfileV1Schema,
    CaseEventV1Schema,
    DecisionQueryV1Schema,
    EvaluateRequestV1Schema,
)
from schemas.common import StrictSchema
from schemas.lexicon import CueFileSchema, LexiconFileSchema, SpellingFileSchema
from schemas.rules import DefaultsFileSchema, RuleFileSchema
from service.ruleset.yamlsrc import parse

RULES = Path(__file__).resolve().parents[3] / "rules"
BODY: dict[str, Any] = {
    "case": {
        "case_id": "C-1",
        "hostility": 1,
        "last_escalations": {"supervisor": {"at": "2026-11-22T09:00:00Z", "severity": 3}},
        "customer": {
            "id": "cus-7",
            "flags": ["vip"],
            "threats": [{"at": "2026-11-01T00:00:00Z", "kind": "legal"}],
            "unresolved_complaint_refs": [{"case_id": "C-0", "opened_at": "2026-10-01T00:00:00Z"}],
        },
        "agent": {
            "id": "ag-3",
            "limits": {"max_complexity": 3, "max_hostility": 3, "max_minutes": 30},
        },
    },
    "event": {
        "event_id": "evt-42",
        "type": "customer_message",
        "occurred_at": "2026-11-22T10:00:00Z",
        "channel": "chat",
        "customer": {"id": "cus-7", "tier": "key_account"},
        "agent": {"id": "ag-3"},
        "text": "Get me your manager, now!",
        "language": "en",
        "attributes": {"topic": "billing", "complexity": 4},
    },
}
# What a path's value is replaced with: absent, null, the wrong type, out of range, unknown.
REPLACEMENTS = st.sampled_from([None, "", "x", -1, 10**12, 1.5, True, [], [1], {}, {"zz": 1}])


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Yield the path of every value inside ``value``."""
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        yield (*prefix, key)
        yield from paths(item, (*prefix, key))


PATHS = list(paths(BODY))


@contextmanager
def marshmallows_loop() -> Iterator[None]:
    """Load with marshmallow's own field loop instead of StrictSchema's."""
    ours = StrictSchema.__dict__["_deserialize"]
    StrictSchema._deserialize = Schema._deserialize  # type: ignore[method-assign]
    try:
        yield
    finally:
        StrictSchema._deserialize = ours  # type: ignore[method-assign]


def outcome(schema: Schema, data: Any) -> tuple[str, str]:
    """Return what loading ``data`` gives, result or error messages, as comparable text."""
    try:
        return "loaded", repr(schema.load(data))
    except ValidationError as exc:
        return "refused", json.dumps(exc.messages, default=str, sort_keys=True) + repr(
            exc.valid_data
        )


def both(schema: Schema, data: Any) -> tuple[tuple[str, str], tuple[str, str]]:
    """Return the outcome of StrictSchema's loop and of marshmallow's on ``data``."""
    ours = outcome(schema, copy.deepcopy(data))
    with marshmallows_loop():
        theirs = outcome(schema, copy.deepcopy(data))
    return ours, theirs


def test_the_plan_is_used_and_marshmallows_loop_can_be_restored() -> None:
    schema = EvaluateRequestV1Schema()
    schema.load(BODY)

    assert schema._load_plan() is not None
    assert StrictSchema._deserialize is not Schema._deserialize
    with marshmallows_loop():
        assert StrictSchema._deserialize is Schema._deserialize
    assert StrictSchema._deserialize is not Schema._deserialize


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    changes=st.lists(
        st.tuples(st.sampled_from(PATHS), st.one_of(st.just("(drop)"), REPLACEMENTS)), max_size=3
    )
)
def test_an_evaluate_body_loads_or_fails_alike(changes: list[tuple[tuple[Any, ...], Any]]) -> None:
    body = copy.deepcopy(BODY)
    for path, replacement in changes:
        parent: Any = body
        try:
            for key in path[:-1]:
                parent = parent[key]
            if replacement == "(drop)":
                del parent[path[-1]]
            else:
                parent[path[-1]] = replacement
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed or replaced the path

    ours, theirs = both(EvaluateRequestV1Schema(), body)

    assert ours == theirs


@pytest.mark.parametrize(
    ("schema", "data"),
    [
        (EvaluateRequestV1Schema(), BODY),
        (EvaluateRequestV1Schema(), {}),
        (EvaluateRequestV1Schema(), []),
        (EvaluateRequestV1Schema(), {"event": None, "case": None, "rules": {"revision": "x"}}),
        (EvaluateRequestV1Schema(), {"event": {**BODY["event"], "evnet_id": 1}, "cas": {}}),
        (
            CaseEventV1Schema(),
            {**BODY["event"], "type": "deadline_reached", "event_id": "deadline:1"},
        ),
        (CaseEventV1Schema(), {"type": "escalation_accepted"}),
        (AgentProfileV1Schema(), {"limits": None, "skills": ["a", ""]}),
        (DecisionQueryV1Schema(), {"limit": "0", "outcome": "maybe"}),
    ],
)
def test_requests_load_or_fail_alike(schema: Schema, data: Any) -> None:
    ours, theirs = both(schema, data)

    assert ours == theirs


def test_the_bundled_rule_files_load_alike() -> None:
    loaded = 0
    for path in sorted(RULES.rglob("*.yaml")):
        # Read as the service reads them (its loader is not PyYAML's safe_load).
        located, problems = parse(path.read_text(encoding="utf-8"), str(path))
        assert located is not None, problems
        data = located.data
        schema: Schema
        if path.parent.parent.name == "lexicons":
            schema = {"cues.yaml": CueFileSchema(), "spelling.yaml": SpellingFileSchema()}.get(
                path.name, LexiconFileSchema()
            )
        elif path.name == "defaults.yaml":
            schema = DefaultsFileSchema()
        elif path.parent == RULES and isinstance(data, dict) and "rules" in data:
            schema = RuleFileSchema()
        else:
            continue
        ours, theirs = both(schema, data)
        assert ours == theirs, path
        assert ours[0] == "loaded", path
        loaded += 1

    assert loaded > 5
