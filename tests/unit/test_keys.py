"""API key domain code: tokens, hashes, scopes, names and the key-file format."""

from __future__ import annotations

import hashlib

import pytest

from service.keys import (
    FileLine,
    InvalidKey,
    check_name,
    format_line,
    hash_token,
    new_token,
    parse_file,
    parse_scopes,
)


def test_tokens_are_random_and_stored_as_their_sha256() -> None:
    first, second = new_token(), new_token()

    assert first != second
    assert first.startswith("esk_")
    assert len(first) == len("esk_") + 43  # 32 bytes, URL-safe base64
    assert hash_token(first) == "sha256:" + hashlib.sha256(first.encode()).hexdigest()


def test_scopes_are_deduplicated_and_kept_in_the_documented_order() -> None:
    assert parse_scopes(" text:read,events:write,,text:read ") == ("events:write", "text:read")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("decisions:raed", 'unknown scope \'decisions:raed\'; did you mean "decisions:read"?'),
        ("superuser", "unknown scope 'superuser'; expected one of: events:write, decisions:read"),
        ("", "no scopes given"),
    ],
)
def test_an_unknown_scope_is_refused_with_a_hint(text: str, message: str) -> None:
    with pytest.raises(InvalidKey) as raised:
        parse_scopes(text)

    assert str(raised.value).startswith(message)


@pytest.mark.parametrize("name", ["", "-x", "a b", "ü", "x" * 65, "a/b"])
def test_names_are_short_and_plain(name: str) -> None:
    with pytest.raises(InvalidKey):
        check_name(name)


def test_the_key_file_round_trips_and_names_each_bad_line() -> None:
    digest = hash_token("esk_x")
    text = (
        "# comment\n"
        "\n"
        + format_line("ci", ("events:write",), digest)
        + "two fields\n"
        + "bad-hash events:write sha256:xyz\n"
        + f"bad-scope evnts:write {digest}\n"
    )

    keys, problems = parse_file(text)

    assert keys == [FileLine("ci", ("events:write",), digest)]
    assert [p.split(":")[0] for p in problems] == ["line 4", "line 5", "line 6"]
    assert 'did you mean "events:write"?' in problems[2]
