"""The replay command's argument parsing, progress line and text report."""

from __future__ import annotations

import argparse
import io
from datetime import UTC, datetime, timedelta

import pytest

from service.cli.replay import _progress, moment, positive, print_report
from service.replay import Change, ReplayReport, Verdict


def test_moments_are_dates_or_timestamps_read_as_utc() -> None:
    assert moment("2026-11-20") == datetime(2026, 11, 20, tzinfo=UTC)
    assert moment("2026-11-20T09:30:00Z") == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    assert moment("2026-11-20T10:30:00+01:00") == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    assert moment("2026-11-20T09:30") == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    assert moment("2026-11-20T09:30").tzinfo == UTC
    assert moment("2026-11-20T10:30:00+01:00").utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "", "20/11/2026"])
def test_a_bad_moment_is_refused_naming_it(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="is not an ISO 8601 date or timestamp"):
        moment(text)


@pytest.mark.parametrize(("text", "value"), [("1", 1), ("100000", 100_000)])
def test_limits_are_whole_numbers_from_one(text: str, value: int) -> None:
    assert positive(text) == value


@pytest.mark.parametrize("text", ["0", "-3", "1.5", "ten"])
def test_other_limits_are_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="not a whole number of 1 or more"):
        positive(text)


def test_the_progress_line_passes_every_item_through_and_clears_itself() -> None:
    out = io.StringIO()
    items = [object() for _ in range(5)]

    passed = list(_progress(items, 5, out))  # type: ignore[arg-type]

    assert passed == items
    assert out.getvalue().startswith("\rreplaying: 1 of 5 events (20%)")
    assert out.getvalue().endswith("\r\033[K")


def test_the_text_report_shows_counts_rates_and_both_decisions() -> None:
    before = Verdict("escalate", (("supervisor", "handover"),), "supervisors", "high", ("a", "b"))
    after = Verdict("none", (), None, "normal", ("a",))
    when = datetime(2026, 11, 20, 9, tzinfo=UTC)
    report = ReplayReport(
        events=8,
        changed=1,
        skipped=2,
        by_rule={"b": {"fires_more": 0, "fires_less": 1}},
        by_outcome={"escalate -> none": 1},
        escalated_before=4,
        escalated_after=3,
        examples=(Change(7, "C-1", "e-7", when + timedelta(minutes=5), before, after),),
    )
    out = io.StringIO()

    print_report(report, "the recorded decisions", out)

    text = out.getvalue()
    assert "8 events replayed, 2 skipped (no recorded state)" in text
    assert "1 decisions change." in text
    assert "Escalation rate: 50.0% before, 37.5% after." in text
    assert "escalate -> none" in text
    assert "case C-1, event e-7, 2026-11-20T09:05:00+00:00" in text
    assert "before: escalate; to supervisor (handover); route supervisors; priority high; rules a, b" in text
    assert "after:  none; route -; priority normal; rules a" in text
    assert report.as_dict()["escalation_rate"] == {"before": 0.5, "after": 0.375}
