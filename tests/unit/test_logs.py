"""The log set-up: JSON lines from standard-library loggers, and request ids."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from service import logs


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    logs.configure(stream=buffer)
    yield buffer
    logs.configure()


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_standard_library_records_come_out_as_json_with_the_fixed_fields(
    stream: io.StringIO,
) -> None:
    logging.getLogger("service.somewhere").info(
        "rules reloaded", extra={"revision": "sha256:abc"}
    )

    [line] = lines(stream)
    assert list(line)[:6] == ["timestamp", "level", "logger", "event", "request_id", "pid"]
    assert line["level"] == "info"
    assert line["logger"] == "service.somewhere"
    assert line["event"] == "rules reloaded"
    assert line["revision"] == "sha256:abc"
    assert line["request_id"] is None
    assert str(line["timestamp"]).endswith("Z")


def test_a_bound_request_id_is_on_every_line_until_unbound(stream: io.StringIO) -> None:
    log = logging.getLogger("service.x")
    logs.bind_request("req-1")
    log.warning("inside")
    try:
        raise ValueError("broken")
    except ValueError:
        log.exception("failed")
    logs.unbind_request()
    log.warning("outside")

    found = lines(stream)
    assert [(x["event"], x["request_id"]) for x in found] == [
        ("inside", "req-1"),
        ("failed", "req-1"),
        ("outside", None),
    ]
    assert "ValueError: broken" in str(found[1]["exception"])


def test_configuring_twice_keeps_one_handler(stream: io.StringIO) -> None:
    logs.configure(stream=stream)
    logging.getLogger("service.y").info("once")

    assert len(lines(stream)) == 1


def test_the_level_is_applied(stream: io.StringIO) -> None:
    logs.configure("WARNING", stream=stream)
    logging.getLogger("service.z").info("hidden")
    logging.getLogger("service.z").warning("shown")

    assert [x["event"] for x in lines(stream)] == ["shown"]


@pytest.mark.parametrize(
    "given",
    ["abc", "0f8fad5b-d9cb-469f-a165-70867728950e", "Root=1-5759e988:bd862e3fe/1be46a99", "a" * 128],
)
def test_a_short_safe_request_id_is_kept(given: str) -> None:
    assert logs.request_id(given) == given


@pytest.mark.parametrize(
    "given",
    [None, "", "a" * 129, "has space", "new\nline", 'quote"', "ünïcode", "semi;colon", "<script>"],
)
def test_anything_else_gets_a_new_id(given: str | None) -> None:
    made = logs.request_id(given)

    assert made != given
    assert len(made) == 32
    assert int(made, 16) >= 0
