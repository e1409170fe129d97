"""Pure webhook rules: URL and secret checks, event filters, signatures, backoff, Retry-After."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from schemas.webhooks import secret_problem, url_problem
from service.config import defaults
from service.webhooks import rules

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/hooks", "https://tickets.example.com/escalations?src=esc", "http://h/"],
)
def test_http_and_https_urls_are_accepted(url: str) -> None:
    assert url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.com/hooks", "http or https"),
        ("file:///etc/passwd", "http or https"),
        ("example.com/hooks", "http or https"),
        ("https://user:pw@example.com/hooks", "credentials"),
        ("https://token@example.com/hooks", "credentials"),
        ("http://example.com:99999/", "not a valid URL"),
        ("http://[::1/", "not a valid URL"),
        ("http:///path-only", "host"),
        ("http://exa mple.com/", "spaces"),
        ("http://example.com/" + "a" * 2000, "at most"),
    ],
)
def test_other_urls_are_refused_saying_why(url: str, words: str) -> None:
    problem = url_problem(url)

    assert problem is not None
    assert words in problem


def test_a_generated_secret_is_valid_and_differs_each_time() -> None:
    first, second = rules.new_secret(), rules.new_secret()

    assert secret_problem(first) is None
    assert first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32


@pytest.mark.parametrize(
    ("secret", "words"),
    [
        ("c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", "whsec_"),
        ("whsec_not base64!", "valid base64"),
        ("whsec_" + base64.b64encode(b"x" * 23).decode(), "24 to 64 bytes, not 23"),
        ("whsec_" + base64.b64encode(b"x" * 65).decode(), "24 to 64 bytes, not 65"),
    ],
)
def test_bad_secrets_are_refused_saying_why(secret: str, words: str) -> None:
    problem = secret_problem(secret)

    assert problem is not None
    assert words in problem


@pytest.mark.parametrize("size", [24, 64])
def test_secrets_of_24_and_64_bytes_are_accepted(size: int) -> None:
    assert secret_problem("whsec_" + base64.b64encode(b"k" * size).decode()) is None


@pytest.mark.parametrize(
    ("events", "outcome", "time_driven", "expected"),
    [
        ("all", "none", False, True),
        ("all", "escalate", True, True),
        ("escalations", "escalate", False, True),
        ("escalations", "route", False, False),
        ("escalations", "none", True, False),
        ("time_driven", "escalate", False, False),
        ("time_driven", "none", True, True),
    ],
)
def test_the_event_filter_picks_decisions(
    events: str, outcome: str, time_driven: bool, expected: bool
) -> None:
    assert rules.wants(events, outcome, time_driven=time_driven) is expected


def test_headers_sign_the_body_after_standard_webhooks() -> None:
    secret = rules.new_secret()
    decision = {"decision_id": "d-1", "outcome": "escalate", "text": "żółw 你好"}
    payload = rules.body(rules.CREATED, decision, NOW)
    sent_at = datetime.now(UTC)

    headers = rules.headers(secret, "d-1", sent_at, payload)

    assert Webhook(secret).verify(payload, headers) == {
        "type": "decision.created",
        "timestamp": NOW.isoformat(),
        "data": decision,
    }
    assert headers["webhook-id"] == "d-1"
    assert headers["webhook-timestamp"] == str(int(sent_at.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")
    with pytest.raises(WebhookVerificationError):
        Webhook(rules.new_secret()).verify(payload, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(payload.replace(b"escalate", b"none"), headers)


def test_the_body_is_the_same_for_every_attempt() -> None:
    decision = {"decision_id": "d-1"}

    first = rules.body(rules.TIME_DRIVEN, decision, NOW)

    assert first == rules.body(rules.TIME_DRIVEN, decision, NOW)
    assert json.loads(first)["type"] == "decision.time_driven"


def test_the_default_schedule_is_standard_webhooks_about_a_day() -> None:
    assert rules.DEFAULT_SCHEDULE == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    assert 24 * 3600 < sum(rules.DEFAULT_SCHEDULE) < 28 * 3600
    configured = defaults("/tmp")["WEBHOOK_BACKOFF_SECONDS"]
    assert rules.parse_schedule(configured) == rules.DEFAULT_SCHEDULE


def test_the_schedule_is_followed_then_the_delivery_gives_up() -> None:
    schedule = (0.0, 5.0, 300.0)

    assert rules.next_wait(schedule, 1) == 5.0
    assert rules.next_wait(schedule, 2) == 300.0
    assert rules.next_wait(schedule, 3) is None


def test_retry_after_is_honoured_up_to_twice_the_next_wait_and_a_day() -> None:
    schedule = (0.0, 5.0, 50000.0, 36000.0)

    assert rules.next_wait(schedule, 1, retry_after=8.0) == 8.0
    assert rules.next_wait(schedule, 1, retry_after=3600.0) == 10.0
    assert rules.next_wait(schedule, 1, retry_after=1.0) == 5.0
    assert rules.next_wait(schedule, 2, retry_after=200000.0) == 24 * 3600
    assert rules.next_wait(schedule, 4, retry_after=1.0) is None


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    later = NOW + timedelta(seconds=90)

    assert rules.parse_retry_after("120", NOW) == 120.0
    assert rules.parse_retry_after(later.strftime("%a, %d %b %Y %H:%M:%S GMT"), NOW) == 90.0
    assert rules.parse_retry_after("Mon, 30 Nov 2026 11:00:00 GMT", NOW) == 0.0
    assert rules.parse_retry_after("soon", NOW) is None
    assert rules.parse_retry_after(None, NOW) is None
    assert rules.parse_retry_after("-5", NOW) is None


def test_a_schedule_is_parsed_from_a_comma_list() -> None:
    assert rules.parse_schedule("0, 0.5,2") == (0.0, 0.5, 2.0)
    with pytest.raises(ValueError, match="comma list"):
        rules.parse_schedule("")
    with pytest.raises(ValueError, match="comma list"):
        rules.parse_schedule("1,-1")
