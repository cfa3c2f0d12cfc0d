"""Whole months as quarters and years, added or taken away."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from app.history.spans import MONTH, SpanRun, open_span_runs, rows_read, span_runs

JANUARY_2024 = 2024 * 12


def _months(runs: tuple[SpanRun, ...]) -> Counter[int]:
    """How many times each month is counted by the signed runs."""
    counted: Counter[int] = Counter()
    for run in runs:
        for start in range(run.first, run.last + 1, run.months):
            for month in range(start, start + run.months):
                counted[month] += run.sign
    return +counted  # drops months that were added and taken away again


class TestSpanRuns:
    @pytest.mark.parametrize("lo", range(JANUARY_2024 - 14, JANUARY_2024 + 14))
    def test_every_run_of_months_is_counted_exactly_once(self, lo: int) -> None:
        for hi in range(lo, lo + 75):
            runs = span_runs(lo, hi)
            assert _months(runs) == Counter(range(lo, hi)), (lo, hi)
            assert all(run.first % run.months == 0 for run in runs)

    def test_a_calendar_year_is_one_row_per_artist(self) -> None:
        assert span_runs(JANUARY_2024, JANUARY_2024 + 12) == (
            SpanRun(12, JANUARY_2024, JANUARY_2024, 1),
        )

    def test_a_year_from_december_is_the_next_year_less_its_december(self) -> None:
        december_2023 = JANUARY_2024 - 1
        assert span_runs(december_2023, december_2023 + 12) == (
            SpanRun(MONTH, december_2023, december_2023, 1),
            SpanRun(12, JANUARY_2024, JANUARY_2024, 1),
            SpanRun(MONTH, JANUARY_2024 + 11, JANUARY_2024 + 11, -1),
        )

    def test_a_few_months_stay_months(self) -> None:
        may = JANUARY_2024 + 4
        assert span_runs(may, may + 2) == (SpanRun(MONTH, may, may + 1, 1),)

    def test_spans_read_fewer_rows_than_the_months(self) -> None:
        for lo in range(JANUARY_2024, JANUARY_2024 + 12):
            for length in (12, 24, 60):
                assert rows_read(span_runs(lo, lo + length)) <= 0.75 * length


class TestOpenSides:
    @pytest.mark.parametrize("lo", range(JANUARY_2024 - 14, JANUARY_2024 + 14))
    def test_runs_reach_only_into_empty_months(self, lo: int) -> None:
        for hi in range(lo, lo + 40):
            for before, after in itertools.product((False, True), repeat=2):
                runs = open_span_runs(lo, hi, empty_before=before, empty_after=after)
                counted = _months(runs)
                assert all(n == 1 for n in counted.values()), (lo, hi, before, after)
                inside = {m for m in counted if lo <= m < hi}
                assert inside == set(range(lo, hi)), (lo, hi, before, after)
                outside = counted.keys() - inside
                assert all((m < lo and before) or (m >= hi and after) for m in outside)

    def test_the_last_year_of_a_history_is_a_month_and_the_current_year(self) -> None:
        december_2023 = JANUARY_2024 - 1
        assert open_span_runs(
            december_2023, december_2023 + 12, empty_before=False, empty_after=True
        ) == (
            SpanRun(MONTH, december_2023, december_2023, 1),
            SpanRun(12, JANUARY_2024, JANUARY_2024, 1),
        )
        # Without empty months after it, the year's December is taken back.
        closed = open_span_runs(
            december_2023, december_2023 + 12, empty_before=False, empty_after=False
        )
        assert len(closed) == 3
