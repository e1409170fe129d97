"""The one masking function: drop, hash and keep, for every kind of value a body holds."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from service.masking import (
    NOTHING_READABLE,
    Readable,
    TextPolicy,
    digest,
    is_masked,
    mask,
    mask_decision,
    mask_item,
    mask_signals,
    parse_policy,
)

VALUES: list[Any] = ["Chcę rozmawiać z kierownikiem.", "", 42, 3.5, True, ["a", "b"], {"k": "v"}]


@pytest.mark.parametrize("value", VALUES)
def test_keep_returns_every_value_as_it_is(value: Any) -> None:
    assert mask(value, TextPolicy.KEEP) == value


@pytest.mark.parametrize("value", VALUES)
def test_drop_removes_every_value(value: Any) -> None:
    assert mask(value, TextPolicy.DROP) is None


@pytest.mark.parametrize("value", VALUES)
def test_hash_shows_a_length_and_a_sha256_prefix_never_the_value(value: Any) -> None:
    masked = mask(value, TextPolicy.HASH)

    assert is_masked(masked)
    assert isinstance(masked, dict)
    assert set(masked) == {"masked", "length", "sha256_prefix"}
    assert len(masked["sha256_prefix"]) == 16
    if isinstance(value, str) and value:
        assert value not in str(masked)


def test_hash_of_text_is_the_sha256_prefix_of_its_utf8_and_its_length_in_characters() -> None:
    text = "Chcę rozmawiać z kierownikiem."

    masked = mask(text, TextPolicy.HASH)

    expected = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    assert masked == {"masked": True, "length": len(text), "sha256_prefix": expected}


def test_a_key_makes_the_hash_an_hmac_that_cannot_be_recomputed_without_it() -> None:
    keyed = digest("refund", b"secret")
    plain = digest("refund")

    assert keyed["sha256_prefix"] == hmac.new(b"secret", b"refund", "sha256").hexdigest()[:16]
    assert keyed["sha256_prefix"] != plain["sha256_prefix"]
    assert digest("refund", b"other")["sha256_prefix"] != keyed["sha256_prefix"]


def test_equal_values_hash_alike_and_different_values_differently() -> None:
    assert digest("a b c") == digest("a b c")
    assert digest("a b c") != digest("a b d")


def test_none_and_values_already_masked_pass_through() -> None:
    once = mask("words", TextPolicy.HASH)

    assert mask(None, TextPolicy.HASH) is None
    assert mask(once, TextPolicy.HASH) == once
    assert mask(once, TextPolicy.DROP) == once


def test_a_lone_surrogate_is_hashed_rather_than_failing() -> None:
    assert is_masked(mask("\ud800", TextPolicy.HASH))


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (TextPolicy.KEEP, {"id": 1, "text": "words"}),
        (TextPolicy.DROP, {"id": 1}),
        (TextPolicy.HASH, {"id": 1, "text": digest("words")}),
    ],
)
def test_mask_item_masks_or_removes_one_key(policy: TextPolicy, expected: dict[str, Any]) -> None:
    original = {"id": 1, "text": "words"}

    assert mask_item(original, "text", policy) == expected
    assert original == {"id": 1, "text": "words"}  # a copy: the caller's mapping is unchanged


def test_mask_item_leaves_a_missing_or_null_key_alone() -> None:
    assert mask_item({"id": 1}, "text", TextPolicy.DROP) == {"id": 1}
    assert mask_item({"text": None}, "text", TextPolicy.DROP) == {"text": None}


def test_policies_are_read_by_name_and_a_wrong_name_says_the_choices() -> None:
    assert parse_policy(" HASH ") is TextPolicy.HASH
    assert parse_policy("drop") is TextPolicy.DROP
    assert parse_policy("keep") is TextPolicy.KEEP
    with pytest.raises(ValueError, match="drop, hash or keep"):
        parse_policy("mask")


READABLE = Readable(
    numbers=frozenset({"complexity"}),
    booleans=frozenset({"vip"}),
    choices={"limit": frozenset({"complexity", "time"})},
)


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("complexity", 3, True),
        ("event.attributes.complexity", 3.5, True),
        ("complexity", "3", False),  # a number read as text is not a number
        ("complexity", True, False),
        ("vip", True, True),
        ("vip", "yes", False),
        ("limit", "time", True),
        ("limit", "timeout please call 555", False),
        ("order_note", "leave at the door", False),
        ("order_note", 7, False),  # a number the rules do not read as one
    ],
)
def test_readable_shows_only_numbers_booleans_and_choices_the_rules_read(
    name: str, value: object, shown: bool
) -> None:
    assert READABLE.shows(name, value) is shown


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (TextPolicy.KEEP, {"complexity": 3, "limit": "time", "note": "hello"}),
        (TextPolicy.DROP, {"complexity": 3, "limit": "time"}),
        (TextPolicy.HASH, {"complexity": 3, "limit": "time", "note": digest("hello")}),
    ],
)
def test_attributes_are_masked_except_plain_data(
    policy: TextPolicy, expected: dict[str, Any]
) -> None:
    attributes = {"complexity": 3, "limit": "time", "note": "hello"}

    assert READABLE.attributes(attributes, policy) == expected


def test_nothing_is_readable_by_default() -> None:
    assert NOTHING_READABLE.attributes({"complexity": 3}, TextPolicy.DROP) == {}


def test_a_decision_has_its_evidence_masked_and_nothing_else_changed() -> None:
    decision = {
        "decision_id": "d-1",
        "signals": [{"name": "abuse", "evidence": "you idiot", "entry": "idiot*"}],
        "matched_rules": [{"id": "r", "why": "signal abuse (en) matched entry 'idiot*'"}],
    }

    hashed = mask_decision(decision, TextPolicy.HASH)
    dropped = mask_decision(decision, TextPolicy.DROP)

    assert hashed["signals"] == [
        {"name": "abuse", "evidence": digest("you idiot"), "entry": "idiot*"}
    ]
    assert dropped["signals"] == [{"name": "abuse", "entry": "idiot*"}]
    assert hashed["matched_rules"] == decision["matched_rules"]
    assert decision["signals"][0]["evidence"] == "you idiot"  # the original is left alone


def test_a_why_stored_before_masking_loses_its_words_unless_kept() -> None:
    decision = {
        "signals": [{"name": "abuse", "evidence": "you idiot"}],
        "matched_rules": [{"id": "r", "why": "signal abuse (en) matched 'you idiot' and x 1"}],
    }

    hashed = mask_decision(decision, TextPolicy.HASH)
    kept = mask_decision(decision, TextPolicy.KEEP)

    assert hashed["matched_rules"][0]["why"] == (
        "signal abuse (en) matched (text, 9 characters) and x 1"
    )
    assert kept == decision


def test_a_spelling_rewrite_keeps_only_the_word_it_was_read_as() -> None:
    signals = [{"name": "supervisor_demand", "evidence": "my manger", "edits": ["manger→manager"]}]

    hashed = mask_signals(signals, TextPolicy.HASH)
    kept = mask_signals(signals, TextPolicy.KEEP)

    assert hashed[0]["edits"] == ["(text, 6 characters)→manager"]
    assert "manger" not in str(hashed)
    assert kept[0]["edits"] == ["manger→manager"]
