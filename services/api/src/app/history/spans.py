"""A run of whole months as calendar spans to read: months, quarters and years, added or
taken away, chosen to read the fewest summary rows.

A year's row per artist replaces up to twelve month rows, but a window seldom starts in
January: the last 365 days are eleven whole months and two partial ones. Taking away is as
exact as adding (plays and milliseconds are sums), so those eleven months read as one year
less one month plus one month: three lists instead of eleven.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from shared.db.models import SPAN_MONTHS

MONTH = 1

ROWS_PER_SPAN = {MONTH: 1.0, 3: 1.8, 12: 3.8}
"""Rows a span holds relative to a month's: the same tracks and artists come back month after
month, so a year holds about four months' rows, not twelve (the benchmark's listeners)."""


@dataclass(frozen=True, order=True)
class SpanRun:
    """Consecutive spans of one length, `first` to `last` (first months), added or taken away."""

    months: int
    first: int
    last: int
    sign: int

    @property
    def count(self) -> int:
        """How many spans the run holds."""
        return (self.last - self.first) // self.months + 1


def span_runs(lo: int, hi: int) -> tuple[SpanRun, ...]:
    """Months [lo, hi) as runs of spans whose signed sum is exactly those months."""
    return _best(lo, hi, (*sorted(SPAN_MONTHS, reverse=True), MONTH))[1]


def open_span_runs(
    lo: int, hi: int, *, empty_before: bool, empty_after: bool
) -> tuple[SpanRun, ...]:
    """Months [lo, hi) as span runs, which may reach into the months before `lo` when none of
    them holds a row (`empty_before`: the history starts at `lo`) and into those from `hi` on
    (`empty_after`: it ends before `hi`). The last 365 days then read one month and the
    current year, instead of also taking back the year's months still to come."""
    starts = {lo, *(lo - lo % length for length in SPAN_MONTHS)} if empty_before else {lo}
    ends = {hi, *(-(-hi // length) * length for length in SPAN_MONTHS)} if empty_after else {hi}
    return min(
        (span_runs(start, end) for start in sorted(starts) for end in sorted(ends)),
        key=lambda runs: (rows_read(runs), len(runs)),
    )


def rows_read(runs: tuple[SpanRun, ...]) -> float:
    """The rows `runs` read, in months' worth of rows."""
    return sum(run.count * ROWS_PER_SPAN[run.months] for run in runs)


@cache
def _best(lo: int, hi: int, lengths: tuple[int, ...]) -> tuple[float, tuple[SpanRun, ...]]:
    """(cost, runs) of [lo, hi) with spans of `lengths` (longest first, the last 1)."""
    if lo >= hi:
        return 0.0, ()
    length, shorter = lengths[0], lengths[1:]
    if not shorter:
        return (hi - lo) * ROWS_PER_SPAN[MONTH], (SpanRun(MONTH, lo, hi - 1, 1),)
    best = _best(lo, hi, shorter)
    # The whole spans inside, or reaching one span beyond either end and taking it back.
    for first in {lo - lo % length, -(-lo // length) * length}:
        for after in {hi - hi % length, -(-hi // length) * length}:
            if first >= after:
                continue
            run = SpanRun(length, first, after - length, 1)
            before_cost, before = _signed(lo, first, shorter)
            after_cost, beyond = _signed(after, hi, shorter)
            cost = run.count * ROWS_PER_SPAN[length] + before_cost + after_cost
            if cost < best[0]:
                best = cost, (*before, run, *beyond)
    return best


def _signed(a: int, b: int, lengths: tuple[int, ...]) -> tuple[float, tuple[SpanRun, ...]]:
    """[a, b) added when a < b; [b, a) taken away when b < a."""
    if a <= b:
        return _best(a, b, lengths)
    cost, runs = _best(b, a, lengths)
    return cost, tuple(SpanRun(r.months, r.first, r.last, -r.sign) for r in runs)
