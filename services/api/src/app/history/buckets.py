"""Local calendar buckets of charts: days, ISO weeks, months and years, counted and labelled."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

EPOCH_DATE = date(1970, 1, 1)
_EPOCH_WEEKDAY = EPOCH_DATE.weekday()  # a Thursday: 3


class BucketSize(StrEnum):
    """How much local calendar time one point of a chart covers."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"

    def coarser(self) -> BucketSize | None:
        """The next larger size, or None after years."""
        order = list(BucketSize)
        index = order.index(self)
        return order[index + 1] if index + 1 < len(order) else None


class CalendarBuckets:
    """Bucket arithmetic on local dates; weeks are ISO weeks, starting on Monday."""

    @staticmethod
    def day_from_number(day_number: int) -> date:
        """The date of a day counted from 1970-01-01 (what the SQL returns)."""
        return EPOCH_DATE + timedelta(days=day_number)

    @classmethod
    def start_number(cls, day_number: int, size: BucketSize) -> int:
        """`start_of` on day numbers counted from 1970-01-01 (days and weeks without dates)."""
        if size is BucketSize.DAY:
            return day_number
        if size is BucketSize.WEEK:
            return day_number - (day_number + _EPOCH_WEEKDAY) % 7
        start = cls.start_of(cls.day_from_number(day_number), size)
        return (start - EPOCH_DATE).days

    @staticmethod
    def start_of(day: date, size: BucketSize) -> date:
        """The first date of the bucket holding `day`."""
        if size is BucketSize.DAY:
            return day
        if size is BucketSize.WEEK:
            return day - timedelta(days=day.weekday())
        if size is BucketSize.MONTH:
            return day.replace(day=1)
        return day.replace(month=1, day=1)

    @staticmethod
    def next_start(start: date, size: BucketSize) -> date:
        """The first date of the bucket after the one starting at `start`."""
        if size is BucketSize.DAY:
            return start + timedelta(days=1)
        if size is BucketSize.WEEK:
            return start + timedelta(days=7)
        if size is BucketSize.MONTH:
            return date(start.year + start.month // 12, start.month % 12 + 1, 1)
        return date(start.year + 1, 1, 1)

    @classmethod
    def count(cls, first: date, last: date, size: BucketSize) -> int:
        """How many buckets the dates first..last (inclusive) touch."""
        if last < first:
            return 0
        a, b = cls.start_of(first, size), cls.start_of(last, size)
        if size is BucketSize.DAY:
            return (b - a).days + 1
        if size is BucketSize.WEEK:
            return (b - a).days // 7 + 1
        if size is BucketSize.MONTH:
            return (b.year - a.year) * 12 + b.month - a.month + 1
        return b.year - a.year + 1

    @classmethod
    def fitting(cls, first: date, last: date, size: BucketSize, limit: int) -> BucketSize | None:
        """`size`, or the smallest coarser size with at most `limit` buckets; None if none fits."""
        candidate: BucketSize | None = size
        while candidate is not None and cls.count(first, last, candidate) > limit:
            candidate = candidate.coarser()
        return candidate

    @classmethod
    def starts(cls, first: date, last: date, size: BucketSize) -> list[date]:
        """The first date of every bucket the dates first..last (inclusive) touch, in order."""
        starts: list[date] = []
        current = cls.start_of(first, size)
        while current <= last:
            starts.append(current)
            current = cls.next_start(current, size)
        return starts

    @staticmethod
    def label(start: date, size: BucketSize) -> str:
        """A short name: 2024-03-04, 2024-W10, 2024-03 or 2024."""
        if size is BucketSize.DAY:
            return start.isoformat()
        if size is BucketSize.WEEK:
            year, week, _ = start.isocalendar()
            return f"{year}-W{week:02d}"
        if size is BucketSize.MONTH:
            return f"{start.year}-{start.month:02d}"
        return str(start.year)


@dataclass(frozen=True)
class LocalBuckets:
    """Consecutive local chart buckets: each one's first date and the UTC instant it begins."""

    starts: list[date]
    instants: list[datetime]

    def index_of_day(self, day_number: int) -> int | None:
        """The bucket holding a local day (days since 1970-01-01), or None before the first."""
        day = CalendarBuckets.day_from_number(day_number)
        index = bisect.bisect_right(self.starts, day) - 1
        return index if index >= 0 else None

    def index_of_instant(self, moment: datetime) -> int | None:
        """The bucket holding a UTC instant, or None before the first."""
        index = bisect.bisect_right(self.instants, moment) - 1
        return index if index >= 0 else None
