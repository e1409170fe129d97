"""orjson at the edge reads and writes what the standard library would, or steps aside."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st

from schemas.common import StrictJSONError, strict_json
from service import jsonwire
from service.api.json_provider import FastJSONProvider
from service.decision_log import DecisionLog
from service.masking import TextPolicy

# JSON values as a client may send them: text with colons, quotes, non-ASCII and escapes.
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12) | st.sampled_from(
    ["a:b", "::", 'say "hi": now', "é:ü", "\\u003a", "\n:\t"]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)


@given(VALUES, st.booleans())
def test_strict_json_reads_what_the_standard_library_reads(value: Any, ascii_only: bool) -> None:
    raw = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8")

    parsed = strict_json(raw)

    assert parsed == json.loads(raw)
    assert type(parsed) is type(json.loads(raw))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"a": 1, "a": 2}', 'the key "a" appears twice in one object'),
        (b'{"x": {"k": "a:b", "k": "c"}}', 'the key "k" appears twice in one object'),
        (b'{"a": 1, "a": 2, "t": "\\u003a"}', 'the key "a" appears twice in one object'),
        (b'{"a": 1, "\\u0061": 2}', 'the key "a" appears twice in one object'),
        (b'{"a": {"b": 1}, "a": {"b:c": 2, "d": 3}}', 'the key "a" appears twice in one object'),
        (b'{"n": NaN}', "NaN is not valid JSON"),
        (b'{"n": 1,}', "Expecting property name enclosed in double quotes"),
        (b'{"n": "\xff"}', "the body is not UTF-8 text (byte 7)"),
    ],
)
def test_strict_json_refuses_with_the_standard_librarys_words(raw: bytes, message: str) -> None:
    with pytest.raises(StrictJSONError, match=re.escape(message)):
        strict_json(raw)


def test_integers_past_64_bits_stay_exact() -> None:
    assert strict_json(b'{"n": 123456789012345678901234567890}') == {
        "n": 123456789012345678901234567890
    }


def test_a_lone_surrogate_escape_is_read_as_the_standard_library_reads_it() -> None:
    # The body check then names the field (service/api/body.py); parsing must not refuse it.
    assert strict_json(b'{"text": "\\ud800"}') == {"text": "\ud800"}


def test_deep_nesting_is_read_as_before() -> None:
    raw = b"[" * 300 + b"]" * 300
    assert strict_json(raw) == json.loads(raw)


def test_a_byte_order_mark_is_read_as_before() -> None:
    assert strict_json(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}


@given(VALUES)
def test_dumps_writes_the_same_values_compactly(value: Any) -> None:
    try:
        written = jsonwire.dumps(value)
    except jsonwire.Unsure:
        return  # integers past 64 bits: the caller's standard library path
    assert json.loads(written) == value


def test_dumps_writes_compact_utf8_in_the_given_key_order() -> None:
    assert jsonwire.dumps({"b": [1, "é"], "a": None}) == '{"b":[1,"é"],"a":null}'.encode()
    assert jsonwire.dumps({"b": 1, "a": 2}, sort=True) == b'{"a":2,"b":1}'


class Colour(StrEnum):
    RED = "red"


class Size(IntEnum):
    BIG = 3


@dataclass
class Point:
    x: int


def test_dumps_writes_datetimes_dataclasses_and_enums_as_json_does() -> None:
    moment = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    value = {"at": moment, "p": Point(1), "c": Colour.RED, "s": Size.BIG, "id": uuid.UUID(int=1)}

    assert json.loads(jsonwire.dumps(value, str)) == json.loads(json.dumps(value, default=str))


def test_dumps_steps_aside_for_what_orjson_cannot_write() -> None:
    for value in ({1: "non-string key"}, {"n": 2**70}, {"t": "\ud800"}, {"o": object()}):
        with pytest.raises(jsonwire.Unsure):
            jsonwire.dumps(value)


def _flask_answer(provider: type[Any], value: Any) -> Any:
    app = Flask(__name__)
    app.json = provider(app)
    app.json.sort_keys = False
    with app.app_context():
        return app.json.response(value)


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": [1.5, None, True], "text": 'Grüß dich: "hi"', "when": datetime(2026, 1, 2)},
        {"big": 2**70, "surrogate": "\ud800"},
        [1, 2, 3],
    ],
)
def test_flask_responses_carry_the_same_json(value: Any) -> None:
    from flask.json.provider import DefaultJSONProvider

    fast = _flask_answer(FastJSONProvider, value)
    plain = _flask_answer(DefaultJSONProvider, value)

    assert fast.mimetype == plain.mimetype == "application/json"
    assert json.loads(fast.get_data()) == json.loads(plain.get_data())
    assert list(json.loads(fast.get_data())) == list(json.loads(plain.get_data()))  # key order
    assert fast.get_data().endswith(b"\n")


def test_decision_log_lines_carry_the_same_values(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(str(path), TextPolicy.HASH, None)
    entries = [
        {"decision_id": "d-1", "at": datetime(2026, 1, 2, tzinfo=UTC), "why": "ü: é"},
        {"decision_id": "d-2", "n": 2**70},  # past orjson: the standard library writes it
    ]
    try:
        for entry in entries:
            log.write(entry)
    finally:
        log.close()

    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [
        json.loads(json.dumps(entry, default=str)) for entry in entries
    ]
