"""/ops and /docs in a real browser (Debian's Chromium driven by Playwright) against the real server.

Each test asserts what a person would see.  Full-page screenshots are saved
under test-output/screenshots/.  Without Chromium the tests skip with the
reason (run .ci/ensure-chromium); with CI=true they fail instead.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from service.webhooks.outbox import CACHE_SECONDS
from tests.conftest import ROOT
from tests.support.keys import TEST_TOKEN
from tests.support.receiver import Receiver
from tests.support.server import Server
from tests.support.wait import wait_until

pytestmark = pytest.mark.slow

CHROMIUM = Path(os.environ.get("ESCALATION_TEST_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = ROOT / "test-output" / "screenshots"
# Milliseconds a page may take to show something on a busy machine.
PATIENCE_MS = 90_000
KEY = TEST_TOKEN  # the key the Server harness gives every server (decisions:read)
ESCALATING = "C-ESC-1"
CALM = "C-CALM-1"
# A case id that is also HTML: the page must show it as text.
HTML_CASE = "<i>C-HTML"
CALM_TEXT = "Hello, where is my parcel? It is the blue one."


def browser_unavailable() -> str | None:
    """Return why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"Chromium is not installed at {CHROMIUM} (run .ci/ensure-chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = browser_unavailable()
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI=true: the browser tests must run)")
        pytest.skip(reason)
    from playwright.sync_api import expect, sync_playwright

    # Assertions wait as long as actions do: a busy machine may take long to render.
    expect.set_options(timeout=PATIENCE_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


def now_stamp() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def send(server: Server, case_id: str, event_id: str, text: str, channel: str) -> dict[str, Any]:
    event = {
        "event_id": event_id,
        "type": "customer_message",
        "occurred_at": now_stamp(),
        "channel": channel,
        "customer": {"id": f"cus-{event_id}"},
        "agent": {"id": "ag-1"},
        "text": text,
    }
    answer = server.client.post(f"/v1/cases/{case_id}/events", json=event)
    assert answer.status_code == 201, answer.text
    decided: dict[str, Any] = answer.json()
    return decided


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with three decisions, one escalating, and their webhook deliveries failed."""
    instance = tmp_path_factory.mktemp("pages") / "instance"
    receiver = Receiver(then=500)
    with Server(
        instance,
        workers=2,
        ESCALATION_ACCESS_LOG="/dev/null",
        # One attempt, then the delivery has failed for good.
        ESCALATION_WEBHOOK_BACKOFF_SECONDS="0",
        ESCALATION_WEBHOOK_SEND_SECONDS="0.5",
    ) as running:
        hooked = running.client.put("/v1/webhooks/tickets", json={"url": receiver.url})
        assert hooked.status_code == 201, hooked.text
        # Every worker reads the endpoints again once its cached list has expired.
        time.sleep(CACHE_SECONDS + 1)
        assert (
            send(running, ESCALATING, "e-esc", "I want to speak to your manager now.", "chat")[
                "outcome"
            ]
            == "escalate"
        )
        # An e-mail starts the 24-hour written-response timer (a warning due at 18 h).
        assert send(running, CALM, "e-calm", CALM_TEXT, "email")["outcome"] == "none"
        assert send(running, HTML_CASE, "e-html", "Thanks, that helps.", "chat")["outcome"] == (
            "none"
        )
        wait_until(
            lambda: (
                len(
                    running.client.get(
                        "/v1/webhook-deliveries", params={"status": "failed"}
                    ).json()["deliveries"]
                )
                == 3
            ),
            timeout=120,
            message="the three deliveries did not fail",
        )
        yield running
    receiver.close()


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(PATIENCE_MS)
    yield opened
    context.close()


def open_with_key(page: Any, server: Server) -> list[dict[str, str]]:
    """Open /ops, enter the key; return the headers of every data request the page makes."""
    sent: list[dict[str, str]] = []
    page.on("request", lambda r: sent.append(r.headers) if "/v1/" in r.url else None)
    page.goto(f"{server.url}/ops")
    from playwright.sync_api import expect

    expect(page.locator("#key-form")).to_be_visible()
    expect(page.locator("#dashboard")).to_be_hidden()
    page.fill("#api-key", KEY)
    page.click("#key-form button[type=submit]")
    expect(page.locator("body")).to_have_attribute("data-loaded", "yes", timeout=PATIENCE_MS)
    return sent


def test_the_ops_page_shows_rules_rate_decisions_timers_and_failing_deliveries(
    page: Any, server: Server
) -> None:
    from playwright.sync_api import expect

    sent = open_with_key(page, server)

    # Every data request carried the key, and the key stays in this tab only.
    assert sent
    assert all(h.get("authorization") == f"Bearer {KEY}" for h in sent)
    assert page.evaluate("sessionStorage.getItem('escalation.apiKey')") == KEY
    assert page.evaluate("localStorage.length") == 0
    expect(page.locator("#key-form")).to_be_hidden()

    # The active revision and its history.
    revision = server.client.get("/v1/rules").json()["revision"]
    expect(page.locator("#active-revision")).to_have_text(revision)
    expect(page.locator("#revisions-rows tr")).to_have_count(1)
    expect(page.locator("#revisions-rows")).to_contain_text("seed")

    # The latest decisions, newest first, with why they were made.
    rows = page.locator("#decision-rows tr.decision")
    expect(rows).to_have_count(3)
    assert [rows.nth(i).get_attribute("data-case") for i in range(3)] == [
        HTML_CASE,
        CALM,
        ESCALATING,
    ]
    escalated = page.locator(f'#decision-rows tr[data-case="{ESCALATING}"]')
    expect(escalated).to_have_attribute("data-outcome", "escalate")
    expect(escalated.locator(".badge")).to_have_text("escalate")
    expect(escalated).to_contain_text("escalate to supervisor")
    expect(escalated.locator('ul.why li[data-rule="customer-demands-supervisor"]')).to_contain_text(
        "customer-demands-supervisor — signal supervisor_demand"
    )
    expect(escalated).to_contain_text(revision.split(":")[1][:12])
    calm = page.locator(f'#decision-rows tr[data-case="{CALM}"]')
    expect(calm.locator(".badge")).to_have_text("none")
    expect(calm).to_contain_text("no rule matched")
    # A case id that looks like HTML is shown as written, not run as markup.
    expect(page.locator(f'#decision-rows tr[data-case="{HTML_CASE}"] code').first).to_have_text(
        HTML_CASE
    )
    assert page.locator("#decision-rows i").count() == 0

    # The rate chart counts what was decided, and so does the table by rule.
    chart = page.locator("#rate-chart svg.bars")
    expect(chart).to_be_visible()
    expect(chart).to_have_attribute("data-decisions", "3")
    expect(chart).to_have_attribute("data-escalations", "1")
    buckets = chart.locator("g.bucket")
    counted = page.evaluate(
        """() => [...document.querySelectorAll('#rate-chart g.bucket')].reduce(
            (sum, g) => [sum[0] + Number(g.dataset.decisions), sum[1] + Number(g.dataset.escalations)],
            [0, 0])"""
    )
    assert counted == [3, 1]
    assert buckets.count() in (24, 25)  # the window widened to whole hours
    expect(page.locator("#rate-summary")).to_contain_text("3 decisions, 1 escalated")
    expect(page.locator("#rate-summary")).to_contain_text("33.3 %")
    by_rule = page.locator('#rule-rows tr[data-rule="customer-demands-supervisor"]')
    expect(by_rule.locator("td.num").nth(0)).to_have_text("1")
    expect(by_rule.locator("td.num").nth(1)).to_have_text("1")

    # Timers due within 24 hours: the e-mail's written-response warning and breach.
    timers = page.locator(
        f'#timer-rows tr[data-case="{CALM}"][data-timer="written-first-response"]'
    )
    expect(timers).to_have_count(2)
    expect(timers.nth(0)).to_contain_text("warning at 75%")
    expect(timers.nth(1)).to_contain_text("breach")

    # Every delivery failed: the receiver answered 500.
    failing = page.locator('#delivery-rows tr[data-status="failed"]')
    expect(failing).to_have_count(3)
    expect(failing.first).to_contain_text("tickets")
    expect(failing.first).to_contain_text("HTTP 500")

    # No message text on the page.
    assert "parcel" not in page.content()
    screenshot(page, "ops")

    # Searching by case id narrows the list; clearing it brings every decision back.
    page.fill("#search-case", CALM)
    page.click("#search-form button[type=submit]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-case", CALM)
    expect(page.locator("#decisions-caption")).to_contain_text(f"for case {CALM}")
    screenshot(page, "ops-search")
    page.fill("#search-case", "no-such-case")
    page.click("#search-form button[type=submit]")
    expect(rows).to_have_count(0)
    expect(page.locator("#decision-rows")).to_contain_text("No decision found.")
    page.click("#search-clear")
    expect(rows).to_have_count(3)

    # And by customer id.
    page.fill("#search-customer", "cus-e-esc")
    page.click("#search-form button[type=submit]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-case", ESCALATING)

    # Forgetting the key hides the data and asks for a key again.
    page.click("#forget-key")
    expect(page.locator("#key-form")).to_be_visible()
    expect(page.locator("#dashboard")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('escalation.apiKey')") is None


@pytest.mark.parametrize(
    ("status", "says"),
    [
        (401, "The key was not accepted (401 Unauthorized): no valid API key"),
        (403, "It needs the scope decisions:read"),
    ],
)
def test_a_refused_key_shows_why_and_no_data(
    page: Any, server: Server, status: int, says: str
) -> None:
    from playwright.sync_api import expect

    # The key check belongs to the server; here its answer is played back to the page.
    problem = {"status": status, "code": "unauthorized", "detail": "no valid API key"}
    page.route(
        "**/v1/**",
        lambda route: route.fulfill(
            status=status, content_type="application/problem+json", body=json.dumps(problem)
        ),
    )
    page.goto(f"{server.url}/ops")
    page.fill("#api-key", "wrong-key")
    page.click("#key-form button[type=submit]")

    message = page.locator("#auth-message")
    expect(message).to_be_visible()
    expect(message).to_contain_text(says)
    expect(message).to_have_attribute("data-status", str(status))
    expect(page.locator("#dashboard")).to_be_hidden()
    # The refused key is dropped, and another can be entered at once.
    expect(page.locator("#key-form")).to_be_visible()
    expect(page.locator("#key-state")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('escalation.apiKey')") is None
    screenshot(page, f"ops-refused-{status}")


def test_the_docs_page_lists_every_operation_and_schema(page: Any, server: Server) -> None:
    from playwright.sync_api import expect

    spec = server.client.get("/openapi.json").json()
    page.goto(f"{server.url}/docs")

    operations = page.locator("article.operation")
    documented = sum(
        1
        for item in spec["paths"].values()
        for method in item
        if method in ("get", "put", "post", "delete")
    )
    expect(operations).to_have_count(documented)
    events = page.locator('article.operation[data-operation="POST /v1/cases/{case_id}/events"]')
    expect(events).to_be_visible()
    expect(events.locator("table.fields")).to_contain_text("case_id")
    expect(events.locator("ul.bodies")).to_contain_text("EventV1")
    # Error responses are listed with their problem documents.
    errors = events.locator("table.responses tr.error")
    expect(errors.filter(has_text="422")).to_contain_text("validation_failed")
    expect(errors.filter(has_text="422")).to_contain_text("ProblemV1")
    # Operations are grouped by resource, the new ones included.
    for group in ("cases", "decisions", "rules", "webhooks", "operations"):
        expect(page.locator(f'section.group[data-group="{group}"]')).to_be_visible()
    stats = page.locator('article.operation[data-operation="GET /v1/stats/escalations"]')
    expect(stats).to_contain_text("window")

    # Schemas, with their properties; links from operations lead to them.
    schema_names = set(spec["components"]["schemas"])
    expect(page.locator("article.schema")).to_have_count(len(schema_names))
    decision = page.locator('article.schema[data-schema="DecisionV1"]')
    expect(decision.locator("table.fields")).to_contain_text("matched_rules")
    expect(page.locator('article.schema[data-schema="ProblemV1"]')).to_contain_text(
        "validation_failed"
    )
    events.locator('a[href="#schema-eventv1"]').first.click()
    expect(page.locator('article.schema[data-schema="EventV1"]')).to_be_in_viewport()
    screenshot(page, "docs")
