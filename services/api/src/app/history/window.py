"""Time windows and time zones of history questions: parsing, validation and UTC offsets."""

from __future__ import annotations

import functools
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from app.errors import AppError

MAX_WINDOW_DAYS = 7300
"""The longest `days` window: twenty years, longer than Spotify has existed."""

EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2100, 1, 1)

# Names zoneinfo knows that are not zones a person lives in, or depend on the machine.
_NOT_IANA_ZONES = frozenset({"localtime", "posixrules", "Factory"})


class InvalidWindowError(AppError):
    """The time window of a history question is contradictory or out of range."""

    status_code = 400
    code = "invalid_window"


class InvalidTimezoneError(AppError):
    """A time zone name that is not an IANA zone."""

    status_code = 400
    code = "invalid_timezone"


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - _NOT_IANA_ZONES


def resolve_timezone(name: str) -> zoneinfo.ZoneInfo:
    """The zone of an IANA name such as `Europe/Stockholm`, or `InvalidTimezoneError`."""
    if name not in _known_zones():
        raise InvalidTimezoneError(
            f"Unknown time zone {name!r}: give an IANA name such as 'Europe/Stockholm' or 'UTC'."
        )
    return zoneinfo.ZoneInfo(name)


def _check_range(name: str, value: date) -> None:
    day = value.date() if isinstance(value, datetime) else value
    if not EARLIEST_DATE <= day < LATEST_DATE:
        raise InvalidWindowError(
            f"{name} must lie between {EARLIEST_DATE.isoformat()} and "
            f"{LATEST_DATE.isoformat()}; got {value.isoformat()}."
        )


def _instant(value: date, tz: zoneinfo.ZoneInfo, *, end: bool) -> datetime:
    """A date or datetime as a UTC instant; dates and naive datetimes are read in `tz`."""
    if isinstance(value, datetime):
        local = value if value.tzinfo is not None else value.replace(tzinfo=tz)
        return local.astimezone(UTC)
    # An end date is included in full, so the window stops at the next local midnight. A
    # midnight skipped by a DST change resolves (fold=0) to the first instant of that day.
    day = value + timedelta(days=1) if end else value
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True)
class TimeWindow:
    """A half-open UTC interval [start, end) and its zone; None leaves that side open."""

    start: datetime | None
    end: datetime | None
    tz: zoneinfo.ZoneInfo

    @classmethod
    def resolve(
        cls,
        *,
        days: int | None,
        start: date | None,
        end: date | None,
        tz: zoneinfo.ZoneInfo,
        now: datetime,
    ) -> TimeWindow:
        """Turn `days` or `start`/`end` (both optional, never together) into a window."""
        if days is not None:
            if start is not None or end is not None:
                raise InvalidWindowError("Give either days or start/end, not both.")
            if not 1 <= days <= MAX_WINDOW_DAYS:
                raise InvalidWindowError(f"days must be between 1 and {MAX_WINDOW_DAYS}.")
            return cls(start=now - timedelta(days=days), end=now, tz=tz)
        if start is not None:
            _check_range("start", start)
        if end is not None:
            _check_range("end", end)
        start_at = _instant(start, tz, end=False) if start is not None else None
        end_at = _instant(end, tz, end=True) if end is not None else None
        if start_at is not None and end_at is not None and end_at <= start_at:
            raise InvalidWindowError(
                f"end must be after start (start {start_at.isoformat()}, "
                f"end {end_at.isoformat()} in UTC)."
            )
        return cls(start=start_at, end=end_at, tz=tz)

    @property
    def timezone_name(self) -> str:
        """The IANA name of the window's zone."""
        return self.tz.key

    def local_days_between(self, first: datetime, last: datetime) -> int:
        """How many local calendar dates the instants first..last (inclusive) touch."""
        if last < first:
            return 0
        return (last.astimezone(self.tz).date() - first.astimezone(self.tz).date()).days + 1


@dataclass(frozen=True)
class UtcOffsets:
    """A zone's UTC offset over a span: the offset at its start and every change inside it."""

    initial: int
    changes: tuple[tuple[datetime, int], ...]

    @classmethod
    def between(cls, tz: zoneinfo.ZoneInfo, start: datetime, end: datetime) -> UtcOffsets:
        """The offsets in seconds `tz` uses from `start` to `end`, from the tz database."""
        first = int(start.timestamp())
        last = int(end.timestamp()) + 1
        changes = tuple(
            (datetime.fromtimestamp(instant, UTC), offset)
            for year in range(start.astimezone(UTC).year, end.astimezone(UTC).year + 1)
            for instant, offset in _year_changes(tz.key, year)
            if first < instant <= last
        )
        return cls(initial=_offset_at(tz, first), changes=changes)


@functools.lru_cache(maxsize=4096)
def _year_changes(key: str, year: int) -> tuple[tuple[int, int], ...]:
    """(second, new offset) of every change of a zone's UTC offset in a UTC year."""
    # Probe day by day and bisect to the second where the offset changes: no zone
    # changes its offset twice within a day.
    tz = zoneinfo.ZoneInfo(key)
    probe = int(datetime(year, 1, 1, tzinfo=UTC).timestamp()) - 1
    last = int(datetime(year + 1, 1, 1, tzinfo=UTC).timestamp()) - 1
    current = _offset_at(tz, probe)
    changes: list[tuple[int, int]] = []
    while probe < last:
        step = min(probe + 86_400, last)
        if _offset_at(tz, step) != current:
            before, after = probe, step  # offset changes in (before, after]
            while after - before > 1:
                middle = (before + after) // 2
                if _offset_at(tz, middle) == current:
                    before = middle
                else:
                    after = middle
            current = _offset_at(tz, after)
            changes.append((after, current))
        probe = step
    return tuple(changes)


def _offset_at(tz: zoneinfo.ZoneInfo, epoch_seconds: int) -> int:
    offset = datetime.fromtimestamp(epoch_seconds, UTC).astimezone(tz).utcoffset()
    assert offset is not None  # a ZoneInfo always knows its offset for an aware instant
    return int(offset.total_seconds())
