"""How pages show times, durations, sizes and counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from frontend.formatting import hours, label, number, percent, relative, size, span, when

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class TestTimes:
    def test_when_is_utc_to_the_minute_and_a_dash_for_nothing(self) -> None:
        assert when("2026-03-01T14:05:59+01:00") == "2026-03-01 13:05 UTC"
        assert when("2026-03-01T14:05:00") == "2026-03-01 14:05 UTC"  # no zone: UTC
        assert when(None) == "—"
        assert when("not a time") == "—"

    @pytest.mark.parametrize(
        ("delta", "text"),
        [
            (timedelta(minutes=-5), "5 min ago"),
            (timedelta(hours=2, minutes=3, seconds=4), "in 2 h 3 min"),
            (timedelta(days=3, hours=1), "in 3 d 1 h"),
            (timedelta(seconds=-42), "42 s ago"),
            (timedelta(0), "now"),
        ],
    )
    def test_relative_uses_the_two_largest_units(self, delta: timedelta, text: str) -> None:
        assert relative((NOW + delta).isoformat(), now=NOW) == text

    def test_span_of_zero_is_zero_seconds(self) -> None:
        assert span(0) == "0 s"


class TestAmounts:
    def test_numbers_get_thin_thousands_separators(self) -> None:
        assert number(1234567) == "1\u202f234\u202f567"
        assert number(12.5) == "12.5"
        assert number(None) == "—"

    def test_sizes_hours_shares_and_labels(self) -> None:
        assert size(512) == "512 B"
        assert size(2_728_652) == "2.6 MB"
        assert hours(90) == "1.5 h"
        assert percent(0.404) == "40 %"
        assert label("reauth_required") == "reauth required"
