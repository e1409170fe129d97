"""JSONB values on PostgreSQL read and written by orjson: the same values json gives, or json itself."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.store import db

TEXT = st.text(max_size=12) | st.sampled_from(["a:b", 'say "hi"', "é:ü", "\\u003a", "\u2028"])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)  # past 64 bits too
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)


@given(VALUES)
def test_written_values_read_back_as_json_writes_them(value: Any) -> None:
    written = db._json_dumps(value)
    assert json.loads(written) == json.loads(json.dumps(value))


@given(VALUES)
def test_read_values_are_what_json_reads(value: Any) -> None:
    # As the server sends JSONB back: UTF-8 bytes, spaced after separators.
    raw = json.dumps(value, ensure_ascii=False).encode()
    assert db._json_loads(raw) == json.loads(raw)


def test_long_integers_are_read_exactly() -> None:
    raw = b'{"severity": 100000000000000000000001, "n": [12345678901234567890]}'
    found = db._json_loads(raw)
    assert found == {"severity": 10**23 + 1, "n": [12345678901234567890]}
    assert isinstance(found["severity"], int)


def test_what_orjson_refuses_is_written_as_json_writes_it() -> None:
    # Keys that are not strings, an integer past 64 bits.
    value = {1: "one", "big": 2**70}
    assert json.loads(db._json_dumps(value)) == {"1": "one", "big": 2**70}
    with pytest.raises(TypeError):
        db._json_dumps({"at": datetime(2026, 1, 1, tzinfo=UTC)})  # json's error, as before
