"""The one "did you mean" of the project, and messages that carry their hint apart."""

from __future__ import annotations

from marshmallow import ValidationError

from schemas.common import Choice, flatten
from service.hints import Hinted, closest, did_you_mean, one_of, split


def test_the_closest_choice_is_named_and_a_far_one_is_not() -> None:
    assert closest("case.complexty", ["case.complexity", "case.hostility"]) == "case.complexity"
    assert closest("banana", ["case.complexity", "case.hostility"]) is None


def test_did_you_mean_writes_the_guess_the_way_the_file_does() -> None:
    fields = ["case.topic", "case.hostility"]

    assert did_you_mean("case.topc", fields) == 'did you mean "case.topic"?'
    assert did_you_mean("case.topc", fields, written="{{{}}}") == 'did you mean "{case.topic}"?'
    assert did_you_mean("banana", fields) is None
    assert one_of(("low", "high")) == "expected one of: low, high"


def test_a_hinted_message_reads_as_before_but_splits_into_its_parts() -> None:
    message = Hinted('unknown field "chanel"', 'did you mean "channel"?')

    assert message == 'unknown field "chanel"; did you mean "channel"?'
    assert split(message) == ('unknown field "chanel"', 'did you mean "channel"?')
    assert split("expected text") == ("expected text", None)
    assert Hinted("no rule", None) == "no rule"
    assert split(Hinted("no rule", None)) == ("no rule", None)


def test_a_hint_survives_marshmallow_and_flattening() -> None:
    try:
        Choice(("low", "high"), "priority")("hihg")
    except ValidationError as exc:
        ((path, message),) = list(flatten({"then": {"priority": exc.messages}}))
    assert path == ("then", "priority")
    assert split(message) == ('unknown priority "hihg"', 'did you mean "high"?')
