"""Time windows, zones and UTC offsets of history questions (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.history.window import (
    MAX_WINDOW_DAYS,
    InvalidTimezoneError,
    InvalidWindowError,
    TimeWindow,
    UtcOffsets,
    resolve_timezone,
)

NOW = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)
STOCKHOLM = ZoneInfo("Europe/Stockholm")


def resolve(
    *, days: int | None = None, start: date | None = None, end: date | None = None
) -> TimeWindow:
    """A window in Stockholm at NOW."""
    return TimeWindow.resolve(days=days, start=start, end=end, tz=STOCKHOLM, now=NOW)


class TestTimeWindow:
    def test_days_end_now(self) -> None:
        window = resolve(days=7)

        assert (window.start, window.end) == (datetime(2024, 6, 8, 12, 0, tzinfo=UTC), NOW)

    def test_dates_are_local_midnights_and_the_end_date_is_included(self) -> None:
        window = resolve(start=date(2024, 3, 1), end=date(2024, 3, 31))

        assert window.start == datetime(2024, 2, 29, 23, 0, tzinfo=UTC)  # CET
        assert window.end == datetime(2024, 3, 31, 22, 0, tzinfo=UTC)  # CEST

    def test_a_skipped_midnight_starts_the_day_at_its_first_instant(self) -> None:
        # Chile moved clocks from 00:00 to 01:00 on 2024-09-08.
        window = TimeWindow.resolve(
            days=None,
            start=date(2024, 9, 8),
            end=None,
            tz=ZoneInfo("America/Santiago"),
            now=NOW,
        )

        assert window.start == datetime(2024, 9, 8, 4, 0, tzinfo=UTC)

    def test_neither_days_nor_dates_is_the_whole_history(self) -> None:
        window = resolve()

        assert (window.start, window.end) == (None, None)

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"days": 1, "end": date(2024, 1, 1)},
            {"days": 0},
            {"days": MAX_WINDOW_DAYS + 1},
            {"start": date(2024, 1, 2), "end": date(2024, 1, 1)},
            {"start": datetime(1999, 1, 1, tzinfo=UTC)},
        ],
    )
    def test_contradictions_and_out_of_range_values_are_refused(
        self, kwargs: dict[str, Any]
    ) -> None:
        with pytest.raises(InvalidWindowError):
            resolve(**kwargs)

    def test_local_days_between_counts_calendar_dates_in_the_zone(self) -> None:
        window = resolve()

        # 23:30 UTC on 29 February is 1 March in Stockholm: 1-31 March is 31 dates.
        assert (
            window.local_days_between(
                datetime(2024, 2, 29, 23, 30, tzinfo=UTC), datetime(2024, 3, 31, 21, 0, tzinfo=UTC)
            )
            == 31
        )


class TestUtcOffsets:
    def test_stockholm_changes_twice_in_2024(self) -> None:
        offsets = UtcOffsets.between(
            STOCKHOLM, datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 12, 31, tzinfo=UTC)
        )

        assert offsets.initial == 3600
        assert offsets.changes == (
            (datetime(2024, 3, 31, 1, 0, tzinfo=UTC), 7200),
            (datetime(2024, 10, 27, 1, 0, tzinfo=UTC), 3600),
        )

    def test_utc_never_changes(self) -> None:
        offsets = UtcOffsets.between(
            ZoneInfo("UTC"), datetime(2010, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)
        )

        assert (offsets.initial, offsets.changes) == (0, ())

    def test_a_change_on_the_last_instant_is_found(self) -> None:
        change = datetime(2024, 3, 31, 1, 0, tzinfo=UTC)

        offsets = UtcOffsets.between(STOCKHOLM, datetime(2024, 3, 30, tzinfo=UTC), change)

        assert offsets.changes == ((change, 7200),)


class TestTimezones:
    def test_an_iana_name_resolves(self) -> None:
        assert resolve_timezone("Asia/Kolkata").key == "Asia/Kolkata"

    @pytest.mark.parametrize(
        "name", ["Mars/Olympus_Mons", "../../etc/passwd", "Europe", "localtime", ""]
    )
    def test_anything_else_is_refused(self, name: str) -> None:
        with pytest.raises(InvalidTimezoneError):
            resolve_timezone(name)
