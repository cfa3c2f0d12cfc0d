"""Calendar buckets of charts and the play-history cursor (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.history.buckets import BucketSize, CalendarBuckets
from app.history.cursor import InvalidCursorError, PlayCursor


class TestCalendarBuckets:
    @pytest.mark.parametrize(
        ("size", "start", "label"),
        [
            (BucketSize.DAY, date(2024, 3, 6), "2024-03-06"),
            (BucketSize.WEEK, date(2024, 3, 4), "2024-W10"),
            (BucketSize.MONTH, date(2024, 3, 1), "2024-03"),
            (BucketSize.YEAR, date(2024, 1, 1), "2024"),
        ],
    )
    def test_a_day_belongs_to_the_bucket_starting_at_its_first_date(
        self, size: BucketSize, start: date, label: str
    ) -> None:
        assert CalendarBuckets.start_of(date(2024, 3, 6), size) == start
        assert CalendarBuckets.label(start, size) == label

    @pytest.mark.parametrize("size", list(BucketSize))
    def test_day_numbers_fall_in_the_same_buckets_as_dates(self, size: BucketSize) -> None:
        # Every weekday, both sides of 1970-01-01, across month and year ends.
        for day_number in [*range(-10, 10), *range(19_700, 19_740)]:
            day = CalendarBuckets.day_from_number(day_number)
            start = CalendarBuckets.start_of(day, size)
            number = CalendarBuckets.start_number(day_number, size)
            assert CalendarBuckets.day_from_number(number) == start, (day, size)

    def test_iso_weeks_of_a_year_boundary(self) -> None:
        # 2024-12-30 is a Monday in ISO week 1 of 2025.
        start = CalendarBuckets.start_of(date(2025, 1, 1), BucketSize.WEEK)

        assert start == date(2024, 12, 30)
        assert CalendarBuckets.label(start, BucketSize.WEEK) == "2025-W01"

    @pytest.mark.parametrize(
        ("size", "expected"),
        [
            (BucketSize.DAY, 366),
            (BucketSize.WEEK, 54),  # Sunday 31 December 2023 to Monday 30 December 2024
            (BucketSize.MONTH, 13),
            (BucketSize.YEAR, 2),
        ],
    )
    def test_count_matches_the_listed_starts(self, size: BucketSize, expected: int) -> None:
        first, last = date(2023, 12, 31), date(2024, 12, 30)

        starts = CalendarBuckets.starts(first, last, size)

        assert CalendarBuckets.count(first, last, size) == len(starts) == expected
        assert starts == sorted(set(starts))

    def test_december_is_followed_by_january(self) -> None:
        assert CalendarBuckets.next_start(date(2023, 12, 1), BucketSize.MONTH) == date(2024, 1, 1)

    def test_fitting_coarsens_until_the_points_fit_and_gives_up_after_years(self) -> None:
        first, last = date(2000, 1, 1), date(2010, 12, 31)

        assert CalendarBuckets.fitting(first, last, BucketSize.DAY, 1000) is BucketSize.WEEK
        assert CalendarBuckets.fitting(first, last, BucketSize.DAY, 200) is BucketSize.MONTH
        assert CalendarBuckets.fitting(first, last, BucketSize.MONTH, 5) is None

    def test_an_empty_range_has_no_buckets(self) -> None:
        assert CalendarBuckets.count(date(2024, 1, 2), date(2024, 1, 1), BucketSize.DAY) == 0


class TestPlayCursor:
    def test_a_cursor_round_trips_to_the_microsecond(self) -> None:
        cursor = PlayCursor(datetime(2024, 3, 31, 1, 30, 0, 123_457, tzinfo=UTC), 42)

        assert PlayCursor.decode(cursor.encode()) == cursor

    def test_the_text_is_url_safe_and_opaque(self) -> None:
        text = PlayCursor(datetime(2024, 3, 31, tzinfo=UTC), 7).encode()

        assert text.isascii()
        assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

    @pytest.mark.parametrize("text", ["", "!!!", "cDE6MQ==", "AAAA"])
    def test_anything_else_is_refused(self, text: str) -> None:
        with pytest.raises(InvalidCursorError):
            PlayCursor.decode(text)
