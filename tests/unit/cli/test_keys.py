"""``escalation keys``: the token printed once, only hashes kept, revoked keys never coming back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.cli import main
from service.keys import KeyRing, hash_token
from service.store import keys as rows
from service.store.db import create_engine
from service.store.repository import Store
from tests.support.wait import wait_until


@pytest.fixture
def where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """Point the CLI at a SQLite file and a key file in ``tmp_path``; return both."""
    monkeypatch.setenv("ESCALATION_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'escalation.db'}")
    monkeypatch.delenv("ESCALATION_API_KEYS", raising=False)
    return f"sqlite:///{tmp_path / 'escalation.db'}", tmp_path / "api-keys"


def stored(url: str) -> list[rows.KeyRow]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return rows.all_keys(conn)
    finally:
        engine.dispose()


def test_add_prints_the_token_once_and_stores_only_its_hash(
    where: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    url, key_file = where

    status = main(["keys", "add", "ticketing", "--scopes", "events:write,decisions:read"])

    out, err = capsys.readouterr()
    token = out.strip()
    assert status == 0
    assert out == token + "\n"
    assert token.startswith("esk_")
    assert len(token) > 40
    assert token not in err
    text = key_file.read_text(encoding="utf-8")
    assert token not in text
    assert f"ticketing events:write,decisions:read {hash_token(token)}" in text
    assert key_file.stat().st_mode & 0o077 == 0
    [row] = stored(url)
    assert (row.name, row.scopes, row.token_hash) == (
        "ticketing",
        ("events:write", "decisions:read"),
        hash_token(token),
    )


def test_list_shows_names_scopes_and_times_never_hashes(
    where: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    main(["keys", "add", "a", "--scopes", "decisions:read"])
    main(["keys", "add", "b", "--scopes", "rules:admin"])
    main(["keys", "revoke", "a"])
    capsys.readouterr()

    assert main(["keys", "list"]) == 0

    out = capsys.readouterr().out
    assert "sha256" not in out
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "SCOPES", "CREATED", "REVOKED"]
    assert lines[1].split()[:2] == ["a", "decisions:read"]
    assert lines[1].split()[3] != "-"
    assert lines[2].split()[:2] == ["b", "rules:admin"]
    assert lines[2].split()[3] == "-"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["add", "x", "--scopes", "event:write"], 'did you mean "events:write"?'),
        (["add", "x", "--scopes", "root"], "expected one of: events:write"),
        (["add", "x", "--scopes", ","], "no scopes given"),
        (["add", "has space", "--scopes", "text:read"], "invalid key name"),
        (["add", "-bad", "--scopes", "text:read"], ""),  # argparse: an option, not a name
        (["revoke", "nobody"], "no key named 'nobody'"),
    ],
)
def test_invalid_input_is_refused_with_a_clear_message(
    where: tuple[str, Path], capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    try:
        status = main(["keys", *argv])
    except SystemExit as exc:  # argparse's own refusal
        status = int(exc.code or 0)

    out, err = capsys.readouterr()
    assert status != 0
    assert out == ""
    assert message in err


def test_a_name_is_never_given_twice(
    where: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    main(["keys", "add", "ci", "--scopes", "text:read"])
    main(["keys", "revoke", "ci"])
    capsys.readouterr()

    assert main(["keys", "add", "ci", "--scopes", "text:read"]) == 1

    out, err = capsys.readouterr()
    assert out == ""
    assert "taken" in err


def test_revoke_suggests_a_near_name(
    where: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    main(["keys", "add", "ticketing", "--scopes", "text:read"])
    capsys.readouterr()

    assert main(["keys", "revoke", "tiketing"]) == 1

    assert 'did you mean "ticketing"?' in capsys.readouterr().err


def test_a_revoked_key_in_a_stale_file_is_not_imported_again(
    where: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    url, key_file = where
    main(["keys", "add", "old", "--scopes", "decisions:read"])
    token = capsys.readouterr().out.strip()
    stale = key_file.read_text(encoding="utf-8")
    main(["keys", "revoke", "old"])
    assert "old" not in key_file.read_text(encoding="utf-8")
    key_file.write_text(stale, encoding="utf-8")  # a copy from before the revocation
    engine = create_engine(url)
    ring = KeyRing(Store(engine), key_file, clock=lambda: datetime.now(UTC))

    ring.refresh()

    assert ring.lookup(token) is None
    [row] = stored(url)
    assert row.revoked_at is not None
    engine.dispose()


def test_a_worker_imports_new_lines_of_the_key_file(where: tuple[str, Path]) -> None:
    url, key_file = where
    engine = create_engine(url)
    main(["keys", "list"])  # migrates the database
    ring = KeyRing(Store(engine), key_file, clock=lambda: datetime.now(UTC))
    ring.refresh()
    token = "esk_written-by-an-operator"
    key_file.write_text(
        f"# a comment\nnot a key line\nops decisions:read,text:read {hash_token(token)}\n",
        encoding="utf-8",
    )

    ring.refresh()

    key = ring.lookup(token)
    assert key is not None
    assert (key.name, key.scopes) == ("ops", frozenset({"decisions:read", "text:read"}))
    assert [r.name for r in stored(url)] == ["ops"]
    engine.dispose()


def test_dev_adds_a_key_only_when_there_is_none(
    where: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = where

    assert main(["keys", "dev"]) == 0
    first = capsys.readouterr()
    assert main(["keys", "dev"]) == 0
    second = capsys.readouterr()

    assert first.out.strip().startswith("esk_")
    assert "production" in first.err
    assert second.out == ""
    [row] = stored(url)
    assert row.name == "dev"
    assert set(row.scopes) == {"events:write", "decisions:read", "rules:admin", "text:read"}


def test_the_poller_imports_the_key_file_without_a_request(where: tuple[str, Path]) -> None:
    url, key_file = where
    engine = create_engine(url)
    main(["keys", "list"])  # migrates the database
    ring = KeyRing(Store(engine), key_file, interval=0.1, clock=lambda: datetime.now(UTC))
    ring.start()
    try:
        key_file.write_text(f"idle decisions:read {hash_token('esk_idle')}\n", encoding="utf-8")

        wait_until(lambda: [r.name for r in stored(url)] == ["idle"], message="the import")
        wait_until(lambda: ring.active() == 1, message="the table")
    finally:
        ring.stop()
        engine.dispose()
